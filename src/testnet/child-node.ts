import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process'
import { createInterface } from 'node:readline'
import { join } from 'node:path'
import { packageRoot } from '../util/package-root.js'
import { ApiClient } from '../api/client.js'
import { Repo } from '../node/repo.js'
import { KizunaError } from '../errors.js'
import { DAEMON_ENV, DAEMON_NODE_FLAGS } from '../daemon/node-flags.js'

/** A child daemon that has not printed `ready` in this long is reported as failed */
export const CHILD_READY_TIMEOUT_MS = 60_000
/** After SIGTERM a child gets this long before SIGKILL */
export const CHILD_STOP_GRACE_MS = 5_000

export const KIZUNA_BIN = join(packageRoot(), 'bin', 'kizuna.js')

/**
 * Extra flags for the node binary of every child daemon, space-separated (for example
 * `--cpu-prof --cpu-prof-dir=/tmp/prof`): profiling flags are refused in NODE_OPTIONS
 */
export const CHILD_NODE_ARGS_ENV = 'KIZUNA_TESTNET_NODE_ARGS'

function childNodeArgs (): string[] {
  return (process.env[CHILD_NODE_ARGS_ENV] ?? '').split(' ').filter(arg => arg !== '')
}

export interface ChildNodeOptions {
  repo: string
  args: string[]
  onLine?: (line: string) => void
  signal?: AbortSignal
  /** Starts the process (default: node on this host); a lab runs it inside a host's namespace */
  launch?: (command: string[], options: SpawnOptions) => ChildProcess
  /** Makes the API client once the daemon is ready (default: from the repo's daemon info) */
  connect?: (repo: Repo) => Promise<ApiClient>
}

/** A `kizuna daemon` running as its own OS process, driven through its HTTP API */
export class ChildNode {
  readonly repo: string
  readonly process: ChildProcess
  peerId = ''
  addrs: string[] = []
  api!: ApiClient
  private exited = false
  readonly exitedPromise: Promise<number | null>

  private constructor (repo: string, child: ChildProcess) {
    this.repo = repo
    this.process = child
    this.exitedPromise = new Promise(resolve => {
      child.once('exit', code => { this.exited = true; resolve(code) })
    })
  }

  get pid (): number {
    return this.process.pid ?? -1
  }

  get isRunning (): boolean {
    return !this.exited
  }

  static async start (options: ChildNodeOptions): Promise<ChildNode> {
    const launch = options.launch ?? ((command, spawnOptions) => spawn(command[0], command.slice(1), spawnOptions))
    const child = launch([process.execPath, ...DAEMON_NODE_FLAGS, ...childNodeArgs(), KIZUNA_BIN, 'daemon', '--repo', options.repo, ...options.args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...DAEMON_ENV, ...process.env, KIZUNA_REPO: options.repo }
    })
    const node = new ChildNode(options.repo, child)
    const stderr: string[] = []
    child.stderr?.on('data', (chunk: Buffer) => { stderr.push(chunk.toString()) })
    const lines = createInterface({ input: child.stdout! })
    const ready = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => { reject(new KizunaError('ERR_CHILD_TIMEOUT', `daemon in ${options.repo} did not become ready: ${stderr.join('')}`)) }, CHILD_READY_TIMEOUT_MS)
      const onAbort = (): void => { clearTimeout(timer); reject(new KizunaError('ERR_ABORTED', 'testnet start aborted')) }
      options.signal?.addEventListener('abort', onAbort, { once: true })
      lines.on('line', line => {
        options.onLine?.(line)
        if (line.startsWith('peer id: ')) node.peerId = line.slice('peer id: '.length).trim()
        if (line.startsWith('listening on: ')) node.addrs.push(line.slice('listening on: '.length).trim())
        if (line === 'ready') { clearTimeout(timer); resolve() }
      })
      void node.exitedPromise.then(code => {
        clearTimeout(timer)
        reject(new KizunaError('ERR_CHILD_EXITED', `daemon in ${options.repo} exited with code ${code} before ready: ${stderr.join('').trim()}`))
      })
    })
    try {
      await ready
    } catch (err) {
      await node.kill()
      throw err
    }
    try {
      node.api = await (options.connect ?? (async repo => await ApiClient.forRepo(repo)))(new Repo(options.repo))
    } catch (err) {
      await node.kill()
      throw err
    }
    return node
  }

  /** SIGSTOP: the process hangs with its sockets open, the case eviction must handle */
  freeze (): void {
    if (this.isRunning) this.process.kill('SIGSTOP')
  }

  thaw (): void {
    if (this.isRunning) this.process.kill('SIGCONT')
  }

  /** Graceful stop (SIGTERM), escalating to SIGKILL after a grace period */
  async stop (): Promise<void> {
    if (!this.isRunning) return
    this.thaw()
    this.process.kill('SIGTERM')
    const timer = setTimeout(() => { if (this.isRunning) this.process.kill('SIGKILL') }, CHILD_STOP_GRACE_MS)
    await this.exitedPromise
    clearTimeout(timer)
  }

  /** kill -9: no clean-up at all, as in a crash */
  async kill (): Promise<void> {
    if (!this.isRunning) return
    this.process.kill('SIGKILL')
    await this.exitedPromise
  }
}
