import { access, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises'
import { randomBytes } from 'node:crypto'
import { homedir } from 'node:os'
import { join, resolve } from 'node:path'
// config and identity load multiaddr and @libp2p/crypto: imported where used, so a CLI command
// that only reads the API token and address never loads them (kizuna id: tens of ms)
import type { KizunaConfig } from './config.js'
import type { Identity } from './identity.js'
import { RepoLock } from './lock.js'
import { RepoExistsError, RepoNotInitializedError } from '../errors.js'

/** `--repo DIR`, else `$KIZUNA_REPO`, else `~/.kizuna` */
export function resolveRepoPath (explicit?: string): string {
  if (explicit != null && explicit !== '') {
    return resolve(explicit)
  }
  const fromEnv = process.env.KIZUNA_REPO
  if (fromEnv != null && fromEnv !== '') {
    return resolve(fromEnv)
  }
  return join(homedir(), '.kizuna')
}

/** What a running daemon publishes in the repo so the CLI can find it */
export interface DaemonInfo {
  pid: number
  api: string
  peerId: string
}

export class Repo {
  readonly path: string

  constructor (path: string) {
    this.path = resolve(path)
  }

  get configPath (): string { return join(this.path, 'config.json') }
  get keyPath (): string { return join(this.path, 'identity.key') }
  get tokenPath (): string { return join(this.path, 'api.token') }
  get daemonInfoPath (): string { return join(this.path, 'daemon.json') }
  get lockPath (): string { return join(this.path, 'repo.lock') }
  get datastorePath (): string { return join(this.path, 'datastore') }
  get blocksPath (): string { return join(this.path, 'blocks') }

  async exists (): Promise<boolean> {
    try {
      await access(this.configPath)
      return true
    } catch {
      return false
    }
  }

  /** Creates identity, config and API token. Refuses to touch an existing repo. */
  async init (config: Partial<KizunaConfig> = {}): Promise<Identity> {
    if (await this.exists()) {
      throw new RepoExistsError(this.path)
    }
    await mkdir(this.path, { recursive: true, mode: 0o700 })
    const { createIdentity, loadIdentity, saveIdentity } = await import('./identity.js')
    const { DEFAULT_CONFIG } = await import('./config.js')
    const identity = await createIdentity()
    await saveIdentity(this.keyPath, identity).catch(async (err) => {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
      // a half-finished earlier init left a key but no config: reuse the key
    })
    await writeFile(this.tokenPath, randomBytes(32).toString('hex'), { mode: 0o600 })
    await writeAtomically(this.configPath, JSON.stringify({ ...DEFAULT_CONFIG, ...config }, null, 2) + '\n')
    return loadIdentity(this.keyPath)
  }

  async assertInitialized (): Promise<void> {
    if (!(await this.exists())) {
      throw new RepoNotInitializedError(this.path)
    }
  }

  async loadConfig (): Promise<KizunaConfig> {
    await this.assertInitialized()
    const { loadConfig } = await import('./config.js')
    return await loadConfig(this.configPath)
  }

  async loadIdentity (): Promise<Identity> {
    await this.assertInitialized()
    const { loadIdentity } = await import('./identity.js')
    return await loadIdentity(this.keyPath)
  }

  async apiToken (): Promise<string> {
    await this.assertInitialized()
    return (await readFile(this.tokenPath, 'utf8')).trim()
  }

  lock (): RepoLock {
    return new RepoLock(this.path, this.lockPath)
  }

  async writeDaemonInfo (info: DaemonInfo): Promise<void> {
    await writeAtomically(this.daemonInfoPath, JSON.stringify(info) + '\n')
  }

  async readDaemonInfo (): Promise<DaemonInfo | undefined> {
    try {
      return JSON.parse(await readFile(this.daemonInfoPath, 'utf8')) as DaemonInfo
    } catch {
      return undefined
    }
  }

  async clearDaemonInfo (): Promise<void> {
    await rm(this.daemonInfoPath, { force: true })
  }
}

/** temp file + rename: a reader sees the old or the new file, never half of one */
export async function writeAtomically (path: string, contents: string): Promise<void> {
  const temp = `${path}.${process.pid}.tmp`
  await writeFile(temp, contents, { mode: 0o600 })
  await rename(temp, path)
}
