import { execFile } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { packageRoot } from '../../src/util/package-root.js'
import { Repo } from '../../src/node/repo.js'

const ROOT = packageRoot()
const WALKTHROUGH_DIR = 'W=/tmp/kizuna-walkthrough'

/** The README's walkthrough, exactly as written but for its working directory, moved into a temp dir */
async function walkthrough (dir: string): Promise<string> {
  const readme = await readFile(join(ROOT, 'README.md'), 'utf8')
  const match = /## 2-minute walkthrough\n[\s\S]*?```sh\n([\s\S]*?)\n```/.exec(readme)
  if (match == null) throw new Error('README.md has no ```sh block under "## 2-minute walkthrough"')
  expect(match[1]).toContain(WALKTHROUGH_DIR)
  return match[1].replace(WALKTHROUGH_DIR, `W=${dir}`)
}

describe('the README walkthrough, pasted into bash', () => {
  let dir: string

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kizuna-walk-'))
  })

  afterAll(async () => {
    // a failed run leaves its daemons behind: stop them by the pid their repo recorded
    for (const name of ['alice', 'bob']) {
      const info = await new Repo(join(dir, name)).readDaemonInfo().catch(() => undefined)
      if (info?.pid != null) { try { process.kill(info.pid, 'SIGKILL') } catch {} }
    }
    await rm(dir, { recursive: true, force: true })
  })

  it('two daemons, add, get by link, the dashboard link and a message all work as written', async () => {
    const script = await walkthrough(dir)
    const { code, stdout, stderr } = await new Promise<{ code: number, stdout: string, stderr: string }>(resolve => {
      // -e: any command of the walkthrough that fails fails the test
      execFile('bash', ['-e', '-c', script], { cwd: ROOT, timeout: 150_000, env: { ...process.env, KIZUNA_REPO: '' } }, (error, stdout, stderr) => {
        resolve({ code: error == null ? 0 : (typeof error.code === 'number' ? error.code : 1), stdout, stderr })
      })
    })
    expect(code, `${stdout}\n${stderr}`).toBe(0)
    const alice = await readFile(join(dir, 'alice.log'), 'utf8')
    const aliceId = /^peer id: (\S+)$/m.exec(alice)![1]
    expect(stdout).toContain(aliceId) // bob's peers list
    expect(stdout).toMatch(/^share link: kizuna:\/\/|^kizuna:\/\//m)
    expect(stdout).not.toContain('found in the local store')
    expect(stdout).toMatch(/^got \S+: 17 B, 17 B fetched/m) // from alice, over the network
    expect(stdout).toMatch(/^hello from alice$/m) // the fetched file, printed by cat
    expect(await readFile(join(dir, 'got.txt'), 'utf8')).toBe('hello from alice\n')
    expect(stdout).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/ui\/login\?ticket=/m)
    expect(stdout).toMatch(/message \S+ delivered/)
    expect(stdout).toMatch(/→ me: got your file, thanks/) // alice's msg ls
    expect(stdout.match(/^daemon is stopping$/mg)).toHaveLength(2)
  }, 180_000)
})
