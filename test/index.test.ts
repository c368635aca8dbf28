import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { packageRoot } from '../src/util/package-root.js'

const run = promisify(execFile)
const ROOT = packageRoot()

/** The README's library snippet, exactly as written (only its repo path is moved into the temp dir) */
async function readmeSnippet (): Promise<string> {
  const readme = await readFile(join(ROOT, 'README.md'), 'utf8')
  const match = /## Library\n+```ts\n([\s\S]*?)\n```/.exec(readme)
  if (match == null) throw new Error('README.md has no ```ts block under "## Library"')
  return match[1]
}

describe('the package as an embedder gets it: packed, installed, README snippet run', () => {
  let dir: string

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kizuna-pack-'))
  })

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  it('npm pack → npm install → the snippet starts a node on 127.0.0.1 and stops it', async () => {
    // `npm test` compiles first; the packed files are dist/
    expect(existsSync(join(ROOT, 'dist', 'src', 'index.js')), 'dist/ is built (npm test runs tsc first)').toBe(true)
    const packed = await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], { cwd: ROOT, maxBuffer: 64 * 1024 * 1024 })
    const [{ filename, files }] = JSON.parse(packed.stdout) as Array<{ filename: string, files: Array<{ path: string }> }>
    // what an embedder needs, and none of the tests, benchmarks or demo
    expect(files.map(f => f.path)).toEqual(expect.arrayContaining(['dist/src/index.js', 'dist/src/index.d.ts', 'dist/src/shim.js', 'bin/kizuna.js']))
    expect(files.filter(f => /^(dist\/)?(test|bench|demo)\//.test(f.path))).toEqual([])

    const app = join(dir, 'app')
    await run('mkdir', ['-p', app])
    await writeFile(join(app, 'package.json'), JSON.stringify({ name: 'embedder', private: true, type: 'module' }))
    // from npm's cache when it has the packages (CI ran npm ci), else from the registry
    await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts', '--no-package-lock', join(dir, filename)], { cwd: app, maxBuffer: 64 * 1024 * 1024 })

    const repo = join(dir, 'carol')
    const snippet = (await readmeSnippet()).replaceAll('/tmp/carol', repo)
    expect(snippet).toContain(repo)
    await writeFile(join(app, 'snippet.mjs'), snippet)
    const result = await run(process.execPath, ['snippet.mjs'], { cwd: app, timeout: 60_000 })
    expect(result.stdout).toMatch(/peerId: '12D3KooW\w+'/)
    expect(result.stdout).toMatch(/\/ip4\/127\.0\.0\.1\/tcp\/\d+\/p2p\/12D3KooW/)
  }, 240_000)
})
