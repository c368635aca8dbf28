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

describe('`kizuna status` and `kizuna peers` on the fast path print what the command tree prints', () => {
  let dir: string
  let repo: string
  let server: Server

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kizuna-fast-info-'))
    repo = join(dir, 'repo')
    expect((await runCli(['init', '--repo', repo])).code).toBe(0)
    // a stand-in daemon API answering with fixed figures
    server = createServer((request, response) => {
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
