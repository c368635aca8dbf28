import { execFile } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { KIZUNA_BIN } from '../../src/testnet/child-node.js'
import { runCli } from '../helpers/cli.js'

/** Every module URL the ESM loader resolves, one `LOADED url` line on stderr */
const HOOK = `import { register } from 'node:module'
register('data:text/javascript,' + encodeURIComponent(\`export async function resolve (s, c, next) {
  const r = await next(s, c); process.stderr.write('LOADED ' + r.url + '\\\\n'); return r }\`))
`

async function loadedBy (hook: string, args: string[]): Promise<string[]> {
  const stderr = await new Promise<string>(resolve => {
    execFile(process.execPath, ['--import', hook, KIZUNA_BIN, ...args], { timeout: 60_000 }, (_err, _out, err) => { resolve(err) })
  })
  return stderr.split('\n').filter(line => line.startsWith('LOADED ')).map(line => line.slice(7))
}

describe('a CLI command loads only what it needs', () => {
  let dir: string
  let hook: string
  let repo: string

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kizuna-startup-'))
    hook = join(dir, 'hook.mjs')
    await writeFile(hook, HOOK)
    repo = join(dir, 'repo')
    expect((await runCli(['init', '--repo', repo])).code).toBe(0)
  })

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  it('`kizuna id` loads the fast path and the API client, never commander, libp2p, multiaddr or the stores', async () => {
    // no daemon runs: the command gets as far as asking for it, with its whole module graph loaded
    const urls = await loadedBy(hook, ['id', '--repo', repo])
    expect(urls.some(url => url.endsWith('/cli/fast-path.js'))).toBe(true)
    expect(urls.some(url => url.endsWith('/api/client.js'))).toBe(true)
    const heavy = urls.filter(url => /node_modules\/(commander|@libp2p|@chainsafe|@multiformats|libp2p)\/|\/src\/(content|exchange|sharing|node\/node|node\/identity)/.test(url))
    expect(heavy).toEqual([])
  })

  it('`kizuna status` and `kizuna peers` take the same fast path', async () => {
    for (const command of ['status', 'peers']) {
      const urls = await loadedBy(hook, [command, '--repo', repo])
      expect(urls.some(url => url.endsWith('/cli/fast-path.js'))).toBe(true)
      expect(urls.filter(url => /node_modules\/(commander|@libp2p|@chainsafe|@multiformats|libp2p)\/|\/src\/(content|exchange|sharing|node\/node|node\/identity)/.test(url))).toEqual([])
    }
  })

  it('`kizuna id --help` still goes through the command tree', async () => {
    const urls = await loadedBy(hook, ['id', '--help'])
    expect(urls.some(url => url.endsWith('/cli/commands/node-info.js'))).toBe(true)
  })
})
