import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ChildNode } from '../../src/testnet/child-node.js'
import { runCli } from '../helpers/cli.js'
import { startDaemonPair, type DaemonPair } from '../helpers/daemon-pair.js'
import { sha256File, writeRandomFile } from '../helpers/files.js'
import { waitFor } from '../helpers/wait.js'

const SIZE = 600_000

/** Every stdout line of a `--json` get must be one JSON object with a string `type` */
function ndjson (stdout: string): Array<Record<string, any>> {
  const lines = stdout.trim().split('\n')
  return lines.map((line, i) => {
    const event = JSON.parse(line)
    expect(typeof event.type, `line ${i + 1}: ${line}`).toBe('string')
    return event
  })
}

describe('kizuna get --json: the progress events as NDJSON', () => {
  let pair: DaemonPair | undefined
  let dir: string
  let a: ChildNode
  let b: ChildNode

  beforeAll(async () => {
    pair = await startDaemonPair('kizuna-get-json-')
    ;({ dir, a, b } = pair)
  }, 120_000)

  afterAll(async () => {
    await pair?.stop()
  })

  it('streams provider, progress and a final done line with the CID and size, between two daemons', async () => {
    const file = join(dir, 'f.bin')
    await writeRandomFile(file, SIZE)
    // one copy only: a replica pushed to b would make the get local
    const added = await runCli(['add', file, '--replicas', '1', '--repo', a.repo, '--json'])
    expect(added.code, added.stderr).toBe(0)
    const { cid } = JSON.parse(added.stdout) as { cid: string }
    await waitFor(async () => (await b.api.get<{ peers: { connected: number } }>('/status')).peers.connected > 0, { timeoutMs: 30_000, message: 'b connected to a' })

    const out = join(dir, 'got.bin')
    const got = await runCli(['get', cid, '-o', out, '--repo', b.repo, '--json'])
    expect(got.code, got.stderr).toBe(0)
    const events = ndjson(got.stdout)
    const types = events.map(e => e.type)
    // no human progress bar or summary mixed in: every line parsed above
    expect(types.every(t => t.startsWith('get:')), types.join(',')).toBe(true)
    expect(events.filter(e => e.type === 'get:provider').map(e => e.peerId)).toContain(a.peerId)
    const progress = events.filter(e => e.type === 'get:progress')
    expect(progress.length).toBeGreaterThan(0)
    expect(progress.map(e => e.bytesDone)).toEqual([...progress.map(e => e.bytesDone)].sort((x, y) => x - y))
    expect(types.indexOf('get:provider')).toBeLessThan(types.indexOf('get:progress'))
    const done = events.at(-1)!
    expect(done).toMatchObject({ type: 'get:done', cid, size: SIZE, output: out })
    expect(done.providers.map((p: { peerId: string }) => p.peerId)).toContain(a.peerId)
    expect(types.filter(t => t === 'get:done')).toHaveLength(1)
    expect(await sha256File(out)).toBe(await sha256File(file))

    // a second get finds it stored: still NDJSON, still ending in done
    const again = ndjson((await runCli(['get', cid, '--repo', b.repo, '--json'])).stdout)
    expect(again.map(e => e.type)).toContain('get:local')
    expect(again.at(-1)).toMatchObject({ type: 'get:done', cid, size: SIZE })
  }, 120_000)

  it('ends in one error line carrying the error\'s stable code', async () => {
    // content nobody has: searching events first, then the error
    const nobody = await runCli(['get', 'bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy', '--repo', b.repo, '--timeout', '2', '--json'])
    expect(nobody.code).toBe(1)
    const events = ndjson(nobody.stdout)
    expect(events.length).toBeGreaterThan(1)
    expect(events.slice(0, -1).every(e => e.type.startsWith('get:'))).toBe(true)
    const last = events.at(-1)!
    expect(last.type).toBe('error')
    expect(last.error.code).toMatch(/^(ERR_NO_PROVIDERS|ERR_FETCH_FAILED)$/)
    expect(nobody.stderr).toContain(last.error.message)

    // refused before the stream starts: the one line is the error
    for (const [args, code] of [[['get', 'bafy-not-a-cid'], 'ERR_BAD_CID'], [['get', 'bafy-not-a-cid', '-o', '-'], 'ERR_BAD_FLAG']] as const) {
      const result = await runCli([...args, '--repo', b.repo, '--json'])
      expect(result.code).toBe(1)
      expect(ndjson(result.stdout)).toEqual([{ type: 'error', error: { code, message: expect.any(String) } }])
    }
  }, 60_000)
})
