import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ChildNode } from './child-node.js'
import { ApiClient } from '../api/client.js'
import { Repo } from '../node/repo.js'
import { DaemonNotRunningError } from '../errors.js'
import type { KizunaConfig } from '../node/config.js'
import type { Lab, LoopbackBridge } from '../netlab/index.js'

/** The port every lab daemon listens on: each host has its own addresses, as on real machines */
export const LAB_NODE_PORT = 4010

/**
 * Config of every lab daemon: all addresses (0.0.0.0), mDNS on, the default per-IP inbound
 * limit (every host has its own IP, so no --lan-swarm), fast replication rounds and no replica
 * floor unless a test asks for one.
 */
export const LAB_NODE_CONFIG: Partial<KizunaConfig> = {
  listen: [`/ip4/0.0.0.0/tcp/${LAB_NODE_PORT}`],
  api: '127.0.0.1:0',
  mdns: true,
  replicas: 1,
  replicationInterval: 2
}

export interface LabMember {
  host: string
  peerId: string
  /** What the daemon printed as its addresses at start (what it announces) */
  addrs: string[]
  repo: string
  child: ChildNode
  /** The daemon's API, reached through a loopback bridge into its host */
  api: ApiClient
}

export interface LabTestnetOptions {
  /** Extra `kizuna daemon` flags for every member */
  args?: string[]
  /** config.json fields for every repo, on top of LAB_NODE_CONFIG */
  config?: Partial<KizunaConfig>
  onLine?: (host: string, line: string) => void
}

/**
 * Kizuna daemons on the hosts of a lab, one per host, each with its own repo, driven through
 * their APIs. stop() ends every daemon and bridge and removes the repos; the lab itself is the
 * caller's to stop.
 */
export class LabTestnet {
  readonly lab: Lab
  readonly members = new Map<string, LabMember>()
  private readonly options: LabTestnetOptions
  private readonly bridges = new Map<string, LoopbackBridge>()
  /**
   * The temp dir and each host's repo are made once, as promises: hosts prepared or started in
   * parallel must share one dir (each awaiting its own mkdtemp made one per host, and every host
   * but the last then started on a path with no repo) and one identity per host
   */
  private dir?: Promise<string>
  private readonly prepared = new Map<string, Promise<string>>()

  constructor (lab: Lab, options: LabTestnetOptions = {}) {
    this.lab = lab
    this.options = options
  }

  member (host: string): LabMember {
    const member = this.members.get(host)
    if (member === undefined) throw new Error(`no daemon on lab host ${host}`)
    return member
  }

  /**
   * Makes the host's repo (if not made yet) and returns the address its daemon will listen on,
   * with its peer ID: other daemons can be given it as bootstrap before it runs
   */
  async prepare (host: string): Promise<string> {
    const address = this.lab.host(host).address
    let prepared = this.prepared.get(host)
    if (prepared === undefined) {
      prepared = this.makeRepo(host)
      this.prepared.set(host, prepared)
      // a failed prepare may be retried
      prepared.catch(() => { if (this.prepared.get(host) === prepared) this.prepared.delete(host) })
    }
    return `/ip4/${address}/tcp/${LAB_NODE_PORT}/p2p/${await prepared}`
  }

  /** Where `host`'s repo is (made by prepare or start) */
  async repoPath (host: string): Promise<string> {
    this.dir ??= mkdtemp(join(tmpdir(), 'kizuna-lab-'))
    return join(await this.dir, host)
  }

  private async makeRepo (host: string): Promise<string> {
    const repo = new Repo(await this.repoPath(host))
    if (!(await repo.exists())) await repo.init({ ...LAB_NODE_CONFIG, ...this.options.config })
    const { peerId } = await repo.loadIdentity()
    return peerId.toString()
  }

  /** Starts a daemon on `host` (its repo is kept across restarts of the same host) */
  async start (host: string, options: { bootstrap?: string[], args?: string[], signal?: AbortSignal } = {}): Promise<LabMember> {
    await this.prepare(host)
    const repoPath = await this.repoPath(host)
    const args = [...(options.bootstrap ?? []).flatMap(addr => ['--bootstrap', addr]), ...(this.options.args ?? []), ...(options.args ?? [])]
    const child = await ChildNode.start({
      repo: repoPath,
      args,
      signal: options.signal,
      onLine: line => this.options.onLine?.(host, line),
      launch: (command, spawnOptions) => this.lab.spawn(host, command, spawnOptions),
      connect: async repo => {
        const info = await repo.readDaemonInfo()
        if (info == null) throw new DaemonNotRunningError(repo.path)
        await this.bridges.get(host)?.close()
        const bridge = await this.lab.bridgeLoopback(host, Number(info.api.split(':').pop()), { signal: options.signal })
        this.bridges.set(host, bridge)
        // the daemon's API checks the Host header (DNS rebinding): say which loopback address we reach through the bridge
        return new ApiClient({ api: bridge.address, token: await repo.apiToken(), repoPath: repo.path, hostHeader: `127.0.0.1:${Number(info.api.split(':').pop())}` })
      }
    })
    const member: LabMember = { host, peerId: child.peerId, addrs: child.addrs, repo: repoPath, child, api: child.api }
    this.members.set(host, member)
    return member
  }

  /** Graceful stop of one daemon (its repo stays for a restart) */
  async stopMember (host: string): Promise<void> {
    await this.members.get(host)?.child.stop()
    await this.bridges.get(host)?.close()
    this.bridges.delete(host)
  }

  async stop (): Promise<void> {
    await Promise.all([...this.members.keys()].map(async host => { await this.stopMember(host).catch(() => {}) }))
    const dir = await this.dir?.catch(() => undefined)
    if (dir != null) await rm(dir, { recursive: true, force: true })
  }
}
