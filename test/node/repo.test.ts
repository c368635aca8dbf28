import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { spawn } from 'node:child_process'
import { afterEach, describe, expect, it } from 'vitest'
import { Repo, resolveRepoPath } from '../../src/node/repo.js'
import { loadIdentity } from '../../src/node/identity.js'

describe('repo, identity and lock', () => {
  const dirs: string[] = []
  afterEach(async () => { await Promise.all(dirs.splice(0).map(async d => rm(d, { recursive: true, force: true }))) })
  const tempRepo = async (): Promise<Repo> => {
    const dir = await mkdtemp(join(tmpdir(), 'kizuna-repo-'))
    dirs.push(dir)
    return new Repo(join(dir, 'repo'))
  }

  it('init writes an Ed25519 key readable only by the owner, and a stable peer id', async () => {
    const repo = await tempRepo()
    const identity = await repo.init()
    expect(((await stat(repo.keyPath)).mode & 0o777)).toBe(0o600)
    expect(((await stat(repo.tokenPath)).mode & 0o777)).toBe(0o600)
    expect(identity.privateKey.type).toBe('Ed25519')
    expect((await repo.loadIdentity()).peerId.toString()).toBe(identity.peerId.toString())
  })

  it('refuses to init twice and to load a key others can read', async () => {
    const repo = await tempRepo()
    await repo.init()
    await expect(repo.init()).rejects.toMatchObject({ code: 'ERR_REPO_EXISTS' })
    const { chmod } = await import('node:fs/promises')
    await chmod(repo.keyPath, 0o644)
    await expect(loadIdentity(repo.keyPath)).rejects.toMatchObject({ code: 'ERR_IDENTITY_PERMISSIONS' })
  })

  it('a missing repo gives a clear error', async () => {
    const repo = await tempRepo()
    await expect(repo.loadConfig()).rejects.toMatchObject({ code: 'ERR_REPO_NOT_INITIALIZED' })
  })

  it('resolves --repo, then $KIZUNA_REPO, then ~/.kizuna', () => {
    const saved = process.env.KIZUNA_REPO
    try {
      process.env.KIZUNA_REPO = '/tmp/from-env'
      expect(resolveRepoPath('/tmp/explicit')).toBe('/tmp/explicit')
      expect(resolveRepoPath()).toBe('/tmp/from-env')
      delete process.env.KIZUNA_REPO
      expect(resolveRepoPath()).toMatch(/\.kizuna$/)
    } finally {
      if (saved === undefined) delete process.env.KIZUNA_REPO
      else process.env.KIZUNA_REPO = saved
    }
  })

  it('a second lock on the same repo fails while the first holder lives', async () => {
    const repo = await tempRepo()
    await repo.init()
    // a live process other than us holds it
    const holder = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'])
    try {
      await writeFile(repo.lockPath, String(holder.pid))
      await expect(repo.lock().acquire()).rejects.toMatchObject({ code: 'ERR_REPO_LOCKED' })
    } finally {
      holder.kill('SIGKILL')
    }
  })

  it('a stale lock from a dead (kill -9) process does not block the next start', async () => {
    const repo = await tempRepo()
    await repo.init()
    const dead = spawn(process.execPath, ['-e', ''])
    await new Promise(resolve => dead.once('exit', resolve))
    await writeFile(repo.lockPath, String(dead.pid))
    const lock = repo.lock()
    await lock.acquire()
    await lock.release()
    // and a half-written (empty) lock file too
    await writeFile(repo.lockPath, '')
    await repo.lock().acquire()
  })
})
