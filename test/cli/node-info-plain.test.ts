import { createServer, type Server } from 'node:http'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { runFastPath } from '../../src/cli/fast-path.js'
import { runCli as runProgram } from '../../src/cli/program.js'
import { runCli } from '../helpers/cli.js'

const STATUS = {
  peerId: '12D3KooWtest',
  uptimeSeconds: 42,
  peers: { known: 3, connected: 2, answeredLastRound: 1 },
  routingTableSize: 2,
  addrs: ['/ip4/127.0.0.1/tcp/1'],
  uploadedBytes: 10,
  downloadedBytes: 20,
  crowd: { referred: 0, sentAfterWait: 0, members: 0, probesServed: 0, probesFailed: 0 },
  exchange: { blocksServed: 1, dontHaveReplies: 0, busyReplies: 0, haveQueries: 2 },
  nat: { reachability: 'public', publicAddrs: ['/ip4/127.0.0.1/tcp/1'], dhtMode: 'server', relays: [] }
}
// a lastSeen in the future reads "0s ago" whenever the test runs
const PEERS = [
  { peerId: '12D3KooWpeerA', addrs: ['/ip4/127.0.0.1/tcp/2'], rttMs: 3, lastSeen: '2999-01-01T00:00:00.000Z', extra: 1 },
  { peerId: '12D3KooWpeerB', addrs: [], rttMs: null, lastSeen: null }
]

const CID_TEXT = 'bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy'
const GET_EVENTS = [
  { type: 'get:searching', cid: CID_TEXT },
  { type: 'get:provider', peerId: '12D3KooWpeerA' },
  { type: 'get:progress', bytesDone: 1024, bytesFetched: 1024, totalBytes: 1024, peers: 1 },
  { type: 'get:exporting', output: '/tmp/x' },
  { type: 'get:done', cid: CID_TEXT, output: '/tmp/x', size: 1024, bytesFetched: 1024, durationMs: 12, providers: [{ peerId: '12D3KooWpeerA', bytes: 1024, blocks: 1 }] }
]
/** Request bodies the stand-in daemon got on /get */
const getBodies: unknown[] = []

/** What a command printed (console.log and stdout writes), run in this process */
async function printed (run: () => Promise<unknown>): Promise<string> {
  const out: string[] = []
  const log = vi.spyOn(console, 'log').mockImplementation((...args: unknown[]) => { out.push(args.join(' ') + '\n') })
  const write = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => { out.push(String(chunk)); return true })
  try {
    await run()
  } finally {
    log.mockRestore()
    write.mockRestore()
  }
  return out.join('')
}

describe('`kizuna status`, `peers` and `get` on the fast path print what the command tree prints', () => {
  let dir: string
  let repo: string
  let server: Server

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kizuna-fast-info-'))
    repo = join(dir, 'repo')
    expect((await runCli(['init', '--repo', repo])).code).toBe(0)
    // a stand-in daemon API answering with fixed figures
    server = createServer((request, response) => {
      if (request.url === '/api/v0/get') {
        let text = ''
        request.on('data', (chunk: Buffer) => { text += chunk.toString() })
        request.on('end', () => {
          getBodies.push(JSON.parse(text))
          response.writeHead(200, { 'content-type': 'application/x-ndjson' })
          response.end(GET_EVENTS.map(e => JSON.stringify(e) + '\n').join(''))
        })
        return
      }
      const body = request.url === '/api/v0/status' ? STATUS : request.url === '/api/v0/peers' ? PEERS : undefined
      response.writeHead(body == null ? 404 : 200, { 'content-type': 'application/json' })
      response.end(JSON.stringify(body ?? { error: { code: 'ERR_NOT_FOUND', message: 'no' } }))
    })
    await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
    const { port } = server.address() as { port: number }
    await writeFile(join(repo, 'daemon.json'), JSON.stringify({ pid: process.pid, api: `127.0.0.1:${port}`, peerId: STATUS.peerId }))
  })

  afterEach(() => { process.exitCode = undefined })

  afterAll(async () => {
    await new Promise(resolve => server?.close(resolve))
    await rm(dir, { recursive: true, force: true })
  })

  for (const flags of [['-o', 'out.bin'], ['--output=out.bin', '--pin', '--timeout', '7', '--max-size', '4096', '--force'], ['-o', 'out.bin', '--json']]) {
    it(`get ${flags.join(' ')}`, async () => {
      const argv = ['node', 'kizuna', 'get', CID_TEXT, '--repo', repo, ...flags]
      getBodies.length = 0
      let fast = false
      const viaFastPath = await printed(async () => { fast = await runFastPath(argv) })
      expect(fast).toBe(true)
      const viaProgram = await printed(async () => { await runProgram(argv) })
      // the progress line's rate is measured on this side's clock
      const steady = (text: string): string => text.replace(/[\d.]+ [KMG]?i?B\/s/g, 'RATE')
      expect(steady(viaFastPath)).toBe(steady(viaProgram))
      expect(viaFastPath).toContain(flags.includes('--json') ? '"type":"get:done"' : 'written to /tmp/x')
      expect(getBodies).toHaveLength(2)
      expect(getBodies[0]).toEqual(getBodies[1])
    })
  }

  it('get with a flag it does not know, or no CID, goes to the command tree', async () => {
    expect(await runFastPath(['node', 'kizuna', 'get', CID_TEXT, '--help'])).toBe(false)
    expect(await runFastPath(['node', 'kizuna', 'get', '--repo', repo])).toBe(false)
  })

  it('a bad CID is refused on the fast path with its code, before the daemon is asked', async () => {
    getBodies.length = 0
    const out = await printed(async () => { await runFastPath(['node', 'kizuna', 'get', 'bafy-not-a-cid', '--repo', repo, '--json']) })
    expect(JSON.parse(out.trim()).error.code).toBe('ERR_BAD_CID')
    expect(getBodies).toHaveLength(0)
  })

  for (const command of ['status', 'peers']) {
    for (const json of [false, true]) {
      it(`${command}${json ? ' --json' : ''}`, async () => {
        const argv = ['node', 'kizuna', command, '--repo', repo, ...(json ? ['--json'] : [])]
        let fast = false
        const viaFastPath = await printed(async () => { fast = await runFastPath(argv) })
        expect(fast).toBe(true)
        const viaProgram = await printed(async () => { await runProgram(argv) })
        expect(viaFastPath).toBe(viaProgram)
        expect(viaFastPath).toContain(command === 'peers' ? '12D3KooWpeerA' : json ? '"routingTableSize": 2' : 'routing table:  2')
      })
    }
  }
})
