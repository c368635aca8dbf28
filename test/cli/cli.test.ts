import { randomBytes } from 'node:crypto'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { FsBlockStore } from '../../src/content/blocks/fs-block-store.js'
import { createServer, type Server } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ChildNode } from '../../src/testnet/child-node.js'
import { Repo } from '../../src/node/repo.js'
import { runCli } from '../helpers/cli.js'
import { waitFor } from '../helpers/wait.js'

const LOOPBACK_FLAGS = ['--listen', '/ip4/127.0.0.1/tcp/0', '--api', '127.0.0.1:0', '--no-mdns', '--lan-swarm']

describe('kizuna CLI against real daemons', () => {
  let dir: string
  let repoA: string
  let repoB: string
  let a: ChildNode
  let b: ChildNode

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kizuna-cli-'))
    repoA = join(dir, 'a')
    repoB = join(dir, 'b')
    const init = await runCli(['init', '--repo', repoA, '--json'])
    expect(init.code).toBe(0)
    expect(JSON.parse(init.stdout).peerId).toMatch(/^12D3KooW/)
    // KIZUNA_REPO is honoured when --repo is absent
    expect((await runCli(['init'], { env: { KIZUNA_REPO: repoB } })).code).toBe(0)
    a = await ChildNode.start({ repo: repoA, args: LOOPBACK_FLAGS })
    b = await ChildNode.start({ repo: repoB, args: [...LOOPBACK_FLAGS, '--bootstrap', a.addrs[0], '--peer-timeout', '30'] })
  })

  afterAll(async () => {
    await a?.stop()
    await b?.stop()
    await rm(dir, { recursive: true, force: true })
  })

  it('id --json gives the peer id and dialable addresses', async () => {
    const result = await runCli(['id', '--repo', repoA, '--json'])
    expect(result.code).toBe(0)
    const id = JSON.parse(result.stdout)
    expect(id.peerId).toBe(a.peerId)
    expect(id.addrs[0]).toMatch(new RegExp(`^/ip4/127\\.0\\.0\\.1/tcp/\\d+/p2p/${a.peerId}$`))
  })

  it('peers --json lists the bootstrap peer with RTT and last-seen', async () => {
    const peers = await waitFor(async () => {
      const result = await runCli(['peers', '--json'], { env: { KIZUNA_REPO: repoB } })
      const list = JSON.parse(result.stdout) as Array<{ peerId: string, addrs: string[], rttMs: number | null, lastSeen: string | null }>
      return list.some(p => p.peerId === a.peerId && p.rttMs != null) ? list : undefined
    }, { timeoutMs: 60_000, intervalMs: 500, message: 'b to have pinged a' })
    const entry = peers.find(p => p.peerId === a.peerId)!
    expect(Object.keys(entry).sort()).toEqual(['addrs', 'lastSeen', 'peerId', 'rttMs'])
    expect(entry.addrs.length).toBeGreaterThan(0)
    expect(Date.parse(entry.lastSeen!)).toBeGreaterThan(Date.now() - 120_000)
  })

  it('status --json reports uptime, peer counts and routing-table size', async () => {
    const result = await runCli(['status', '--repo', repoB, '--json'])
    expect(result.code).toBe(0)
    const status = JSON.parse(result.stdout)
    expect(status.uptimeSeconds).toBeGreaterThanOrEqual(0)
    expect(status.peers.known).toBeGreaterThanOrEqual(1)
    expect(status.routingTableSize).toBeGreaterThanOrEqual(1)
  })

  it('connect: malformed and unreachable addresses fail clearly, the daemon keeps serving', async () => {
    const malformed = await runCli(['connect', 'not-a-multiaddr', '--repo', repoA, '--json'])
    expect(malformed.code).toBe(1)
    expect(JSON.parse(malformed.stdout).error.code).toBe('ERR_BAD_MULTIADDR')
    // a peer id nobody in this swarm has, at a port nothing listens on
    const unreachable = await runCli(['connect', '/ip4/127.0.0.1/tcp/1/p2p/12D3KooWK7nHoqAiAhz7VEzZJXXLptwjHadX2Bcz8A9NRD67fvwb', '--repo', repoA])
    expect(unreachable.code).toBe(1)
    expect(unreachable.stderr).toMatch(/could not connect/)
    const ok = await runCli(['connect', b.addrs[0], '--repo', repoA, '--json'])
    expect(ok.code).toBe(0)
    expect(JSON.parse(ok.stdout).peerId).toBe(b.peerId)
  })

  it('gc --json deletes a block no kept content needs (what a killed add leaves)', async () => {
    // an orphan written behind the daemon's back, as an add killed before recording its root leaves it
    const store = new FsBlockStore(new Repo(repoB).blocksPath)
    await store.open()
    const bytes = randomBytes(4096)
    const orphan = CID.createV1(raw.code, await sha256.digest(bytes))
    await store.put(orphan, bytes)
    const result = await runCli(['gc', '--repo', repoB, '--grace', '0', '--json'])
    expect(result.code).toBe(0)
    expect(JSON.parse(result.stdout).freedBlocks).toBeGreaterThanOrEqual(1)
    expect(await store.has(orphan)).toBe(false)
  })

  it('a missing or wrong API token gets 401', async () => {
    const info = await new Repo(repoA).readDaemonInfo()
    const none = await fetch(`http://${info!.api}/api/v0/id`)
    expect(none.status).toBe(401)
    const wrong = await fetch(`http://${info!.api}/api/v0/id`, { headers: { authorization: 'Bearer nope' } })
    expect(wrong.status).toBe(401)
    expect((await wrong.json()).code).toBe('ERR_UNAUTHORIZED')
  })

  it('a second daemon on the same repo is refused with a lock error', async () => {
    const second = await runCli(['daemon', '--repo', repoA, ...LOOPBACK_FLAGS])
    expect(second.code).toBe(1)
    expect(second.stderr).toMatch(/in use by another daemon/)
    expect((await runCli(['id', '--repo', repoA])).code).toBe(0)
  })

  it('unknown flags and bad flag values are rejected', async () => {
    const unknown = await runCli(['peers', '--repo', repoA, '--frobnicate'])
    expect(unknown.code).not.toBe(0)
    expect(unknown.stderr).toMatch(/unknown option/)
    const badTimeout = await runCli(['daemon', '--repo', join(dir, 'nope'), '--peer-timeout', 'soon'])
    expect(badTimeout.code).toBe(1)
    expect(badTimeout.stderr).toMatch(/--peer-timeout/)
    const badBootstrap = await runCli(['daemon', '--repo', repoA, '--bootstrap', '/ip4/127.0.0.1/tcp/5'])
    expect(badBootstrap.code).toBe(1)
    expect(badBootstrap.stderr).toMatch(/\/p2p\/PEER_ID/)
  })
})

describe('kizuna CLI failure modes without a running daemon', () => {
  let dir: string
  let server: Server | undefined

  beforeAll(async () => { dir = await mkdtemp(join(tmpdir(), 'kizuna-cli-')) })
  afterAll(async () => {
    server?.close()
    await rm(dir, { recursive: true, force: true })
  })

  it('commands say no daemon runs, with a non-zero exit', async () => {
    const repo = join(dir, 'idle')
    await runCli(['init', '--repo', repo])
    for (const command of ['id', 'peers', 'status', 'stop']) {
      const result = await runCli([command, '--repo', repo])
      expect(result.code).toBe(1)
      expect(result.stderr).toMatch(/no Kizuna daemon is running/)
    }
    const uninitialized = await runCli(['status', '--repo', join(dir, 'never-made')])
    expect(uninitialized.code).toBe(1)
    expect(uninitialized.stderr).toMatch(/kizuna init/)
  })

  it('a corrupt config names the bad field and starts nothing', async () => {
    const repo = join(dir, 'badconfig')
    await runCli(['init', '--repo', repo])
    const configPath = join(repo, 'config.json')
    const config = JSON.parse(await readFile(configPath, 'utf8'))
    await writeFile(configPath, JSON.stringify({ ...config, peerTimeout: 'forever' }))
    const result = await runCli(['daemon', '--repo', repo, ...LOOPBACK_FLAGS])
    expect(result.code).toBe(1)
    expect(result.stderr).toMatch(/peerTimeout/)
    await writeFile(configPath, '{"listen": [')
    const half = await runCli(['daemon', '--repo', repo, ...LOOPBACK_FLAGS])
    expect(half.code).toBe(1)
    expect(half.stderr).toMatch(/not valid JSON/)
  })

  it('a listen port already in use is a clear error', async () => {
    const repo = join(dir, 'busy')
    await runCli(['init', '--repo', repo])
    server = createServer()
    await new Promise<void>(resolve => server!.listen(0, '127.0.0.1', resolve))
    const port = (server.address() as { port: number }).port
    const result = await runCli(['daemon', '--repo', repo, '--listen', `/ip4/127.0.0.1/tcp/${port}`, '--api', '127.0.0.1:0', '--no-mdns'])
    expect(result.code).toBe(1)
    expect(result.stderr).toMatch(/in use/)
    const apiBusy = await runCli(['daemon', '--repo', repo, '--listen', '/ip4/127.0.0.1/tcp/0', '--api', `127.0.0.1:${port}`, '--no-mdns'])
    expect(apiBusy.code).toBe(1)
    expect(apiBusy.stderr).toMatch(/API address .* in use/)
  })

  it('kizuna stop shuts a daemon down; after kill -9 the stale lock does not block a restart', async () => {
    const repo = join(dir, 'lifecycle')
    await runCli(['init', '--repo', repo])
    const first = await ChildNode.start({ repo, args: LOOPBACK_FLAGS })
    const stop = await runCli(['stop', '--repo', repo, '--json'])
    expect(stop.code).toBe(0)
    expect(await first.exitedPromise).toBe(0)

    const second = await ChildNode.start({ repo, args: LOOPBACK_FLAGS })
    await second.kill()
    const third = await ChildNode.start({ repo, args: LOOPBACK_FLAGS })
    expect(third.peerId).toBe(first.peerId)
    await third.stop()
  })
})
