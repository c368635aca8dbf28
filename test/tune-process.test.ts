import { execFile } from 'node:child_process'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'
import { packageRoot } from '../src/util/package-root.js'

const run = promisify(execFile)
const dist = (file: string): string => pathToFileURL(join(packageRoot(), 'dist', 'src', file)).href

/**
 * Runs `body` in a fresh Node process (the compiled library, as an embedder gets it) between two
 * snapshots of what a library could change process-wide, and returns both.
 */
async function probe (body: string): Promise<{ before: Snapshot, after: Snapshot, extra: unknown }> {
  const script = `
    import vm from 'node:vm'
    // stdio handles open lazily on first use (libp2p's logger looks at stderr): open them first
    void process.stdin, process.stdout, process.stderr
    const snapshot = () => ({
      env: { ...process.env },
      // --expose-gc set at run time shows in contexts created afterwards
      gcExposed: typeof globalThis.gc === 'function' || vm.runInNewContext('typeof gc') === 'function',
      resources: process.getActiveResourcesInfo().sort()
    })
    const before = snapshot()
    let extra = null
    ${body}
    await new Promise(resolve => setImmediate(resolve))
    const after = snapshot()
    process.stdout.write(JSON.stringify({ before, after, extra }))
  `
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], {
    cwd: packageRoot(),
    env: { ...process.env, DEBUG_COLORS: undefined, KIZUNA_GC_PACER: undefined },
    timeout: 60_000
  })
  return JSON.parse(stdout)
}

interface Snapshot { env: Record<string, string>, gcExposed: boolean, resources: string[] }

describe('the library changes nothing process-wide on its own', () => {
  it('importing it, and creating and starting an exchange client, starts no timers and changes no setting', async () => {
    const { before, after } = await probe(`
      const kizuna = await import(${JSON.stringify(dist('index.js'))})
      if (typeof kizuna.createNode !== 'function') throw new Error('library did not load')
      const { ExchangeClient } = await import(${JSON.stringify(dist('exchange/client/client.js'))})
      const client = new ExchangeClient({ dialer: { dialProtocol: async () => { throw new Error('no dial') } } })
      await client.start()
      await client.stop()
    `)
    expect(after.env).toEqual(before.env)
    expect(before.gcExposed).toBe(false)
    expect(after.gcExposed).toBe(false)
    expect(after.resources).toEqual(before.resources)
  })

  it('tuneProcess() is where the daemon tuning happens (so the check above can fail)', async () => {
    const { before, after, extra } = await probe(`
      const { tuneProcess } = await import(${JSON.stringify(dist('index.js'))})
      extra = tuneProcess()
      if (tuneProcess() !== extra) throw new Error('not idempotent')
    `)
    expect(before.env.DEBUG_COLORS).toBeUndefined()
    expect(['true', 'false']).toContain(after.env.DEBUG_COLORS)
    expect(after.gcExposed).toBe(true)
    expect(extra).toMatchObject({ gcPacing: true, mallocWarmedUp: true })
  })
})
