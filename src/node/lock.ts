import { open, readFile, unlink } from 'node:fs/promises'
import { RepoLockedError } from '../errors.js'

function processIsAlive (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    // EPERM means it exists but belongs to someone else: still alive
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

async function readLockPid (path: string): Promise<number | undefined> {
  try {
    const pid = Number.parseInt(await readFile(path, 'utf8'), 10)
    return Number.isInteger(pid) && pid > 0 ? pid : undefined
  } catch {
    return undefined
  }
}

/**
 * An exclusive repo lock: a file holding the owner's pid, created with O_EXCL. A lock whose
 * pid is no longer running (a kill -9'd daemon) is stale and taken over, so a crash never
 * blocks the next start.
 */
export class RepoLock {
  private readonly path: string
  private readonly repo: string
  private held = false

  constructor (repo: string, path: string) {
    this.repo = repo
    this.path = path
  }

  async acquire (): Promise<void> {
    // two attempts: the second follows removal of a stale lock
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const handle = await open(this.path, 'wx', 0o600)
        await handle.writeFile(String(process.pid))
        await handle.close()
        this.held = true
        return
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
          throw err
        }
      }
      const pid = await readLockPid(this.path)
      if (pid !== undefined && pid !== process.pid && processIsAlive(pid)) {
        throw new RepoLockedError(this.repo, pid)
      }
      // stale (dead owner) or half-written by a crashed start: remove and retry
      await unlink(this.path).catch(() => {})
    }
    throw new RepoLockedError(this.repo, (await readLockPid(this.path)) ?? -1)
  }

  async release (): Promise<void> {
    if (!this.held) {
      return
    }
    this.held = false
    const pid = await readLockPid(this.path)
    if (pid === process.pid) {
      await unlink(this.path).catch(() => {})
    }
  }
}
