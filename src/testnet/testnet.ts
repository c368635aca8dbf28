import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ChildNode } from './child-node.js'
import { createNode } from '../node/create-node.js'
import type { KizunaNode } from '../node/node.js'
import { Repo } from '../node/repo.js'
import { printNodeEvents } from '../daemon/lines.js'
import { DEFAULT_CONFIG, type KizunaConfig } from '../node/config.js'

export type TestnetMode = 'process' | 'in-process'

export interface TestnetOptions {
  size: number
  mode: TestnetMode
  /** Each new node is given exactly one bootstrap peer: the first node, or a random earlier one */
  bootstrap?: 'first' | 'random'
  peerTimeout?: number
  /** Nodes started at once after the first; bounded so a 2-core machine keeps up */
  startConcurrency?: number
  /** Extra `kizuna daemon` flags (process mode) */
  extraArgs?: string[]
  onLine?: (index: number, line: string) => void
  /** config.json fields for every repo, on top of the testnet defaults */
  config?: Partial<KizunaConfig>
}

export interface TestnetMember {
  index: number
  peerId: string
  addrs: string[]
  repo: string
  child?: ChildNode
  node?: KizunaNode
}

/**
 * Config every testnet repo gets: loopback only, no mDNS, no per-IP inbound limit, fast
 * replication rounds, and no replica floor unless a test asks for one (`add --replicas N`).
 */
const TESTNET_CONFIG: Partial<KizunaConfig> = {
  listen: ['/ip4/127.0.0.1/tcp/0'],
  api: '127.0.0.1:0',
  mdns: false,
  replicas: 1,
  replicationInterval: 2,
  limits: { ...DEFAULT_CONFIG.limits, inboundConnectionsPerIpPerSecond: 1000 }
}

/**
 * N real Kizuna nodes on 127.0.0.1, as child daemons or in this process, each in its own temp
 * repo. `stop()` ends every node and removes every temp dir, also after failures.
 */
export class Testnet {
  readonly members: TestnetMember[] = []
  private readonly options: Required<Pick<TestnetOptions, 'bootstrap' | 'startConcurrency'>> & TestnetOptions
  private readonly tempDirs: string[] = []
  private readonly pending = new Set<Promise<unknown>>()
  private stopped = false

  private constructor (options: TestnetOptions) {
    this.options = { bootstrap: 'random', startConcurrency: 4, ...options }
  }

  static async start (options: TestnetOptions): Promise<Testnet> {
    const testnet = new Testnet(options)
    try {
      if (options.size > 0) {
        await testnet.add()
      }
      let remaining = options.size - 1
      while (remaining > 0) {
        const batch = Math.min(remaining, testnet.options.startConcurrency)
        const results = await Promise.allSettled(Array.from({ length: batch }, async () => testnet.add()))
        const failed = results.find(r => r.status === 'rejected')
        if (failed != null) throw (failed as PromiseRejectedResult).reason
        remaining -= batch
      }
    } catch (err) {
      await testnet.stop()
      throw err
    }
    return testnet
  }

  private pickBootstrap (): string[] {
    const running = this.members.filter(m => m.child?.isRunning ?? m.node?.isStarted() ?? false)
    if (running.length === 0) return []
    const chosen = this.options.bootstrap === 'first' ? running[0] : running[Math.floor(Math.random() * running.length)]
    return [chosen.addrs[0]]
  }

  /** Starts one more node bootstrapped from one running member (or from `bootstrap` if given) */
  async add (options: { bootstrap?: string[], repo?: string, extraArgs?: string[] } = {}): Promise<TestnetMember> {
    // stop() waits for starts in progress, so no daemon outlives the testnet
    const starting = this.startMember(options)
    this.pending.add(starting)
    try {
      return await starting
    } finally {
      this.pending.delete(starting)
    }
  }

  private async startMember (options: { bootstrap?: string[], repo?: string, extraArgs?: string[] }): Promise<TestnetMember> {
    if (this.stopped) throw new Error('testnet is stopped')
    const index = this.members.length
    const bootstrap = options.bootstrap ?? this.pickBootstrap()
    // claim the index before any await: concurrent adds must not share one
    const member: TestnetMember = { index, peerId: '', addrs: [], repo: options.repo ?? '' }
    this.members.push(member)
    const repoPath = member.repo !== '' ? member.repo : await this.makeRepo()
    member.repo = repoPath
    if (this.options.mode === 'process') {
      const args = ['--lan-swarm', ...bootstrap.flatMap(addr => ['--bootstrap', addr])]
      if (this.options.peerTimeout != null) args.push('--peer-timeout', String(this.options.peerTimeout))
      args.push(...(this.options.extraArgs ?? []), ...(options.extraArgs ?? []))
      member.child = await ChildNode.start({ repo: repoPath, args, onLine: line => this.options.onLine?.(index, line) })
      member.peerId = member.child.peerId
      member.addrs = member.child.addrs
    } else {
      const node = await createNode({ repo: repoPath, overrides: { bootstrap, peerTimeout: this.options.peerTimeout } })
      printNodeEvents(node, line => this.options.onLine?.(index, line))
      await node.start()
      member.node = node
      member.peerId = node.peerId.toString()
      member.addrs = node.addrs()
    }
    return member
  }

  /** Restarts a stopped member on its own repo (same identity, saved peer store), with no bootstrap */
  async restart (member: TestnetMember): Promise<TestnetMember> {
    await this.stopMember(member)
    const index = this.members.indexOf(member)
    const fresh = await this.add({ bootstrap: [], repo: member.repo })
    this.members.splice(this.members.indexOf(fresh), 1)
    fresh.index = index
    this.members[index] = fresh
    return fresh
  }

  async stopMember (member: TestnetMember): Promise<void> {
    await member.child?.stop()
    await member.node?.stop()
  }

  private async makeRepo (): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), 'kizuna-testnet-'))
    this.tempDirs.push(dir)
    const repoPath = join(dir, 'repo')
    await new Repo(repoPath).init({ ...TESTNET_CONFIG, ...this.options.config })
    return repoPath
  }

  async stop (): Promise<void> {
    if (this.stopped) return
    this.stopped = true
    await Promise.allSettled([...this.pending])
    await Promise.all(this.members.map(async member => { await this.stopMember(member).catch(() => {}) }))
    await Promise.all(this.tempDirs.map(async dir => { await rm(dir, { recursive: true, force: true }) }))
  }
}
