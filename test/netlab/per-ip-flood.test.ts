import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { multiaddr } from '@multiformats/multiaddr'
import type { Libp2p } from 'libp2p'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startLab, type Lab, type LabTopology } from '../../src/netlab/index.js'
import { LAB_NODE_PORT, LabTestnet } from '../../src/testnet/lab-testnet.js'
import { DEFAULT_CONFIG } from '../../src/node/config.js'
import { labSkipReason } from '../helpers/lab.js'
import { createBareNode, stopAll } from '../helpers/bare-node.js'
import { PENDING_UPGRADE_SECONDS_PER_IP } from '../../src/node/inbound-upgrades.js'
import { ConnectionFlood, StalledConnections } from '../helpers/ip-flood.js'
import { sha256File, writeRandomFile } from '../helpers/files.js'
import { waitFor } from '../helpers/wait.js'

const skip = await labSkipReason('test/netlab/per-ip-flood.test.ts')

/** Three hosts, each with its own address on one segment */
const TOPOLOGY: LabTopology = {
  internet: { subnet: '10.67.0.0/24' },
  hosts: [
    { name: 'target', segment: 'internet', address: '10.67.0.10' },
    { name: 'flood', segment: 'internet', address: '10.67.0.20' },
    { name: 'honest', segment: 'internet', address: '10.67.0.30' }
  ]
}
/** The daemon's default: new inbound connections accepted per second from one IP */
const CAP = DEFAULT_CONFIG.limits.inboundConnectionsPerIpPerSecond
/** libp2p identities on the flooding host: per-peer limits cannot see that they are one attacker */
const IDENTITIES = 24
const FLOOD = { pauseMs: 20, maxAttempts: 4000 }
/**
 * Then TCP connections from the same IP that never start a handshake, up to 10 a second:
 * each one let in holds a handshake slot until the target's upgrade timeout (10 s). libp2p has 10
 * slots in all, so before the per-IP cap (src/node/inbound-upgrades.ts) they shut everyone out.
 */
const STALLS = { everyMs: 100, max: 400 }
/** Stalled connections one IP may hold at the target: libp2p's 10 in all before the fix, the per-IP cap after */
const STALL_HOLD = PENDING_UPGRADE_SECONDS_PER_IP * CAP
/** The connection flood runs this long, before the stalled connections */
const FLOOD_MS = 3_000
const FILE_BYTES = 4 * 1024 * 1024 + 5
/** The target's Prometheus /metrics, on its host's own loopback */
const METRICS_PORT = 9464
/** Fetches a URL from inside a lab host and prints the body */
const FETCH = 'fetch(process.argv[1]).then(r => r.text()).then(t => process.stdout.write(t))'
/** The honest host connects to the target and has the file within this, flood or not: a bound, not a speed target */
const HONEST_DEADLINE_MS = 30_000

/**
 * libp2p's limiter gives each IP `CAP` points in a fixed window of 1 s that starts at its first
 * connection after the last window ended: over a span of S seconds at most floor(S) + 1 windows
 * begin, each letting `CAP` in
 */
function allowed (startedAt: number, endedAt: number): number {
  return CAP * (Math.floor((endedAt - startedAt) / 1000) + 1)
}

/**
 * Inbound connections the target refused before any handshake, by its own count: its connection
 * manager's limits (ConnectionDeniedError) and its gater's per-IP handshake cap (ConnectionInterceptedError)
 */
async function deniedAtTarget (lab: Lab): Promise<number> {
  const { stdout } = await lab.exec('target', [process.execPath, '-e', FETCH, `http://127.0.0.1:${METRICS_PORT}/metrics`])
  return stdout.split('\n')
    .filter(l => l.startsWith('libp2p_connection_manager_dials_inbound_errors_total{') && /"Connection(Denied|Intercepted)Error"/.test(l))
    .reduce((sum, l) => sum + Number(l.split(' ').at(-1)), 0)
}

describe.skipIf(skip != null)('the per-IP inbound limit under a connection flood from one lab host', () => {
  let lab: Lab
  let net: LabTestnet
  let dir: string
  const identities: Libp2p[] = []
  let flood: ConnectionFlood | undefined
  let stalls: StalledConnections | undefined

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kizuna-ipflood-'))
    lab = await startLab(TOPOLOGY, { signal: AbortSignal.timeout(60_000) })
    net = new LabTestnet(lab, { config: { mdns: false, nat: { ...DEFAULT_CONFIG.nat, upnp: false } } })
  })

  afterAll(async () => {
    stalls?.stop()
    await flood?.stop()
    await stopAll(identities)
    await net?.stop()
    await lab?.stop()
    if (dir != null) await rm(dir, { recursive: true, force: true })
  })

  it(`lets at most ${CAP} connections a second in from one IP (${IDENTITIES} identities and stalled handshakes), while a peer on another host connects and gets a file`, async () => {
    // both daemons start at once; the honest one meets the target only once the flood runs
    const [target, honest] = await Promise.all([
      net.start('target', { args: ['--metrics', `127.0.0.1:${METRICS_PORT}`], signal: AbortSignal.timeout(90_000) }),
      net.start('honest', { signal: AbortSignal.timeout(90_000) })
    ])
    const source = join(dir, 'file.bin')
    const hash = await writeRandomFile(source, FILE_BYTES)
    // the CID is known once imported; a lone node's DHT announce has nobody to reach, so not waited for
    const add = target.api.stream<{ type: string, cid?: string }>('/add', { path: source, replicas: 1 })
    let cid = ''
    for await (const event of add) if (event.type === 'add:imported') { cid = event.cid!; break }

    // the flood's sockets leave from the flood host: the target sees them all come from 10.67.0.20
    const forwarder = await lab.forward('flood', lab.host('target').address, LAB_NODE_PORT)
    const forwardPort = Number(forwarder.address.split(':')[1])
    for (let i = 0; i < IDENTITIES; i++) identities.push(await createBareNode())
    // 1. many identities dial over and over: the per-IP rate limit
    const floodStartedAt = Date.now()
    flood = new ConnectionFlood(identities, multiaddr(`/ip4/127.0.0.1/tcp/${forwardPort}/p2p/${target.peerId}`), FLOOD)
    flood.start()
    await waitFor(() => Date.now() - flood!.progress.firstAt >= FLOOD_MS, { timeoutMs: 30_000, message: 'the connection flood to run its time' })
    const result = await flood.stop()
    // 2. stalled handshakes fill what one IP can hold (before the fix: every slot the target had)
    stalls = new StalledConnections(forwardPort, STALLS)
    stalls.start()
    await waitFor(() => stalls!.heldFor(1_000) >= STALL_HOLD, { timeoutMs: 30_000, message: `${STALL_HOLD} stalled connections held open` })

    // 3. meanwhile, a host with its own IP connects and fetches
    const started = Date.now()
    const deadline = AbortSignal.timeout(HONEST_DEADLINE_MS)
    await honest.api.post('/connect', { addr: await net.prepare('target') }, { signal: deadline })
    const output = join(dir, 'honest.out')
    const events: Array<{ type: string }> = []
    for await (const event of honest.api.stream<{ type: string }>('/get', { target: cid, output }, { signal: deadline })) events.push(event)
    const honestMs = Date.now() - started
    const stalled = stalls.stop()
    // with the forwarder gone nothing more from the flood can reach the target
    await forwarder.close()
    const endedAt = Date.now()
    const denied = await deniedAtTarget(lab)

    console.log(`per-ip flood: ${result.attempts} dials from one IP in ${((result.lastAt - result.firstAt) / 1000).toFixed(1)} s, ` +
      `${result.accepted} accepted (allowed ${allowed(result.firstAt, result.lastAt)}), ${result.undecided} undecided, refused ${JSON.stringify(result.refusals)}; ${stalled.opened} stalled connections, ${stalled.closedByTarget} closed by the target; ${denied} denied by the target; honest connected and got ${FILE_BYTES} B in ${(honestMs / 1000).toFixed(1)} s`)
    // the honest host got the whole file, within the deadline, during the flood
    expect(events.at(-1)?.type).toBe('get:done')
    expect(await sha256File(output)).toBe(hash)
    expect(honestMs).toBeLessThan(HONEST_DEADLINE_MS)
    // the limit held: no more than CAP a second from the flooding IP, counted by the flood
    // (undecided dials as let in) and, over the whole flood, by the target (every connection it
    // did not deny got past the limit)
    expect(result.accepted + result.undecided).toBeLessThanOrEqual(allowed(result.firstAt, result.lastAt))
    expect(result.attempts + stalled.opened - denied).toBeLessThanOrEqual(allowed(floodStartedAt, endedAt))
    // the limit bit: the flood got some in, and far from all
    expect(result.accepted).toBeGreaterThan(0)
    expect(result.attempts).toBeGreaterThan(result.accepted + result.undecided)
    expect(denied).toBeGreaterThan(0)
  }, 120_000)
})
