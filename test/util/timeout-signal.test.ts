import { execFile } from 'node:child_process'
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { pathToFileURL } from 'node:url'
import { describe, expect, it } from 'vitest'

const run = promisify(execFile)
const ROOT = join(import.meta.dirname, '..', '..')
const SIGNALS = 50

/**
 * Combines 50 never-aborted outer signals with a 100-ms timeout each, collects garbage before
 * anyone listens (as happens while a ping waits on a socket), then counts the aborted ones.
 */
const SCENARIO = `
const { timeoutSignal } = await import(process.argv[1])
const make = process.argv[2] === 'ours' ? timeoutSignal : ms => AbortSignal.timeout(ms)
const outer = new AbortController()
const signals = Array.from({ length: ${SIGNALS} }, () => AbortSignal.any([outer.signal, make(100)]))
for (let i = 0; i < 5; i++) { globalThis.gc(); await new Promise(resolve => setTimeout(resolve, 10)) }
const deadline = Date.now() + 10_000
while (Date.now() < deadline && signals.some(s => !s.aborted)) await new Promise(resolve => setTimeout(resolve, 50))
console.log(signals.filter(s => s.aborted).length)
`

async function abortedAfterGc (kind: 'ours' | 'native'): Promise<number> {
  const module = pathToFileURL(join(ROOT, 'dist', 'src', 'util', 'timeout-signal.js')).href
  const { stdout } = await run(process.execPath, ['--expose-gc', '--input-type=module', '-e', SCENARIO, module, kind], { timeout: 30_000 })
  return Number(stdout.trim())
}

describe('timeoutSignal', () => {
  it('fires inside AbortSignal.any even when garbage is collected before anyone listens', async () => {
    expect(await abortedAfterGc('ours')).toBe(SIGNALS)
  }, 40_000)

  it('aborts with a TimeoutError', async () => {
    const { timeoutSignal } = await import('../../src/util/timeout-signal.js')
    const signal = timeoutSignal(20)
    await new Promise(resolve => signal.addEventListener('abort', resolve, { once: true }))
    expect((signal.reason as Error).name).toBe('TimeoutError')
  })

  it('is what src/ and bench/ use: no bare AbortSignal.timeout left', async () => {
    // on Node 20 the bare one can be collected inside AbortSignal.any and never fire (nodejs/node#57736)
    const files: string[] = []
    for (const dir of ['src', 'bench']) {
      for (const name of await readdir(join(ROOT, dir), { recursive: true })) {
        if (name.endsWith('.ts') && join(dir, name) !== join('src', 'util', 'timeout-signal.ts')) files.push(join(dir, name))
      }
    }
    const offenders: string[] = []
    for (const file of files) {
      if ((await readFile(join(ROOT, file), 'utf8')).includes('AbortSignal.timeout(')) offenders.push(file)
    }
    expect(offenders).toEqual([])
  })
})
