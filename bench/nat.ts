import { setMaxListeners } from 'node:events'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { startLab, type Lab, type LabTopology } from '../src/netlab/index.js'
import { LabTestnet, type LabMember } from '../src/testnet/lab-testnet.js'
import { DEFAULT_CONFIG, type KizunaConfig } from '../src/node/config.js'
import type { AddEvent, GetEvent } from '../src/sharing/events.js'
import type { NatStatus } from '../src/nat/nat-service.js'
import { MiB, writeRandomFile } from './lib/content.js'
import { machineInfo, describeMachine } from './lib/machine.js'
import { summarize, round, type Summary } from './lib/stats.js'
import { writeSection } from './lib/docs.js'
import type { BenchmarkContext } from './index.js'

/** How long after the relayed connection a trial waits for DCUtR's direct one (DCUtR: 3 × 5 s at most) */
const PUNCH_WAIT_MS = 16_000
const RELAY = '10.79.0.10'
const BULK_RELAY = '10.79.0.13'

/**
 * Every address is in the lab's own namespaces (RFC 1918, no route out). A default relay (no
 * bulk), a relay whose operator opted in to bulk (for relayed throughput), two public hosts,
 * and a NATed pair per NAT kind, each host behind its own router.
 */
const TOPOLOGY: LabTopology = {
  internet: { subnet: '10.79.0.0/24' },
  routers: [
    { name: 'cone1', address: '10.79.0.1', nat: 'cone' },
    { name: 'cone2', address: '10.79.0.2', nat: 'cone' },
    { name: 'sym1', address: '10.79.0.3', nat: 'symmetric' },
    { name: 'sym2', address: '10.79.0.4', nat: 'symmetric' }
  ],
  lans: [
    { name: 'lana', subnet: '192.168.91.0/24', router: 'cone1' },
    { name: 'lanb', subnet: '192.168.92.0/24', router: 'cone2' },
    { name: 'lanc', subnet: '192.168.93.0/24', router: 'sym1' },
    { name: 'land', subnet: '192.168.94.0/24', router: 'sym2' }
  ],
  hosts: [
    { name: 'relay', segment: 'internet', address: RELAY },
    { name: 'pub1', segment: 'internet', address: '10.79.0.11' },
    { name: 'pub2', segment: 'internet', address: '10.79.0.12' },
    { name: 'relayb', segment: 'internet', address: BULK_RELAY },
    { name: 'a', segment: 'lana', address: '192.168.91.10' },
    { name: 'b', segment: 'lanb', address: '192.168.92.10' },
    { name: 'c', segment: 'lanc', address: '192.168.93.10' },
    { name: 'd', segment: 'land', address: '192.168.94.10' }
  ]
}

type Status = { nat: NatStatus, addrs: string[] }

interface Trial { punched: boolean, msToDirect: number | null, relayOnlyErrorMs: number | null, errorCode: string | null }

async function waitUntil<T> (check: () => Promise<T | undefined>, timeoutMs: number, signal: AbortSignal): Promise<T | undefined> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    signal.throwIfAborted()
    const value = await check().catch(() => undefined)
    if (value !== undefined) return value
    await new Promise(resolve => setTimeout(resolve, 250))
  }
  return undefined
}

async function add (member: LabMember, path: string, signal: AbortSignal): Promise<string> {
  for await (const event of member.api.stream<AddEvent>('/add', { path }, { signal })) if (event.type === 'add:done') return event.cid
  throw new Error('add ended without add:done')
}

/** A get to its end: MB/s on success, the error code on failure, and how long it took */
async function get (member: LabMember, cid: string, output: string, signal: AbortSignal): Promise<{ ms: number, bytes: number, code: string | null }> {
  const started = Date.now()
  try {
    for await (const event of member.api.stream<GetEvent>('/get', { target: cid, output, timeoutMs: 15_000 }, { signal })) {
      if (event.type === 'get:done') return { ms: Date.now() - started, bytes: event.size, code: null }
    }
    throw new Error('get ended without get:done')
  } catch (err) {
    return { ms: Date.now() - started, bytes: 0, code: (err as { code?: string }).code ?? (err as Error).message }
  }
}

async function relayedAddr (member: LabMember, relayIp: string, signal: AbortSignal): Promise<string> {
  const addr = await waitUntil(async () => (await member.api.get<Status>('/status')).addrs.find(a => a.includes('/p2p-circuit') && a.includes(relayIp)), 60_000, signal)
  if (addr == null) throw new Error(`no reservation on ${relayIp} for ${member.host}`)
  return addr
}

async function connect (from: LabMember, addr: string, signal: AbortSignal): Promise<void> {
  // a relayed dial on a loaded machine can miss the 10 s dial timeout: try again
  const ok = await waitUntil(async () => { await from.api.post('/connect', { addr }); return true }, 60_000, signal)
  if (ok == null) throw new Error(`${from.host} could not reach ${addr}`)
}

export async function run (args: string[], { signal, log }: BenchmarkContext): Promise<void> {
  const { values } = parseArgs({ args, options: { trials: { type: 'string', default: '3' }, 'size-mib': { type: 'string', default: '32' }, 'no-docs': { type: 'boolean', default: false } } })
  // every API call of the run listens on the one signal
  setMaxListeners(Infinity, signal)
  const trials = Number(values.trials)
  const size = Number(values['size-mib']) * MiB
  const dir = await mkdtemp(join(tmpdir(), 'kizuna-bench-nat-'))
  const config: Partial<KizunaConfig> = { mdns: false, replication: false, nat: { ...DEFAULT_CONFIG.nat, upnp: false } }
  let lab: Lab | undefined
  const nets: LabTestnet[] = []
  try {
    lab = await startLab(TOPOLOGY, { signal })
    const net = new LabTestnet(lab, { config })
    // the operator opted in: relayed connections through it carry bulk (RELAY_BULK_MIN_BYTES and more)
    const bulkNet = new LabTestnet(lab, { config: { ...config, nat: { ...DEFAULT_CONFIG.nat, upnp: false, relay: { ...DEFAULT_CONFIG.nat.relay, bulkBytes: size + 16 * MiB } } } })
    nets.push(net, bulkNet)
    const relay = await net.start('relay', { args: ['--reachability', 'public'], signal })
    const boot = [relay.addrs.find(a => a.includes(RELAY) && a.includes('/tcp/'))!]
    log('relay up')

    const punch: Record<'cone' | 'symmetric', Trial[]> = { cone: [], symmetric: [] }
    for (let t = 0; t < trials; t++) {
      for (const [kind, from, to] of [['cone', 'a', 'b'], ['symmetric', 'c', 'd']] as const) {
        // two fresh NATed hosts per trial (new repos, new identities), as in the issue
        const pair = new LabTestnet(lab, { config })
        nets.push(pair)
        // LabTestnet makes its temp dir on the first prepare: not twice at once
        await pair.prepare(from)
        const [x, y] = await Promise.all([from, to].map(async host => await pair.start(host, { bootstrap: boot, args: ['--reachability', 'private'], signal })))
        const file = join(dir, `${kind}-${t}.bin`)
        await writeRandomFile(file, 1 * MiB)
        const cid = await add(y, file, signal)
        const before = (await x.api.get<Status>('/status')).nat.peers
        try {
          await connect(x, await relayedAddr(y, RELAY, signal), signal)
        } catch (err) {
          punch[kind].push({ punched: false, msToDirect: null, relayOnlyErrorMs: null, errorCode: 'relayed dial failed' })
          log(`${kind} trial ${t + 1}: ${(err as Error).message}`)
          await pair.stop()
          continue
        }
        const started = Date.now()
        const direct = await waitUntil(async () => {
          const peers = (await x.api.get<Status>('/status')).nat.peers
          return peers.direct > before.direct && peers.relayedOnly === 0 ? true : undefined
        }, PUNCH_WAIT_MS, signal)
        const msToDirect = direct === true ? Date.now() - started : null
        const result = await get(x, cid, join(dir, `${kind}-${t}.out`), signal)
        const trial: Trial = { punched: direct === true, msToDirect, relayOnlyErrorMs: result.code === 'ERR_RELAY_ONLY' ? result.ms : null, errorCode: result.code }
        punch[kind].push(trial)
        log(`${kind} trial ${t + 1}: ${trial.punched ? `direct after ${msToDirect} ms` : 'no direct connection'}; get ${result.code ?? 'ok'} in ${result.ms} ms`)
        await pair.stop()
      }
    }

    // throughput: public ↔ public (direct), then NATed ↔ NATed through the opted-in relay
    const pub1 = await net.start('pub1', { bootstrap: boot, args: ['--reachability', 'public', '--no-relay'], signal })
    const pub2 = await net.start('pub2', { bootstrap: boot, args: ['--reachability', 'public', '--no-relay'], signal })
    const big = join(dir, 'big.bin')
    await writeRandomFile(big, size)
    const bigCid = await add(pub1, big, signal)
    const directGet = await get(pub2, bigCid, join(dir, 'direct.out'), signal)
    log(`direct ${size / MiB} MiB: ${directGet.code ?? 'ok'} in ${directGet.ms} ms`)
    const relayB = await bulkNet.start('relayb', { bootstrap: boot, args: ['--reachability', 'public'], signal })
    const bootB = [relayB.addrs.find(a => a.includes(BULK_RELAY) && a.includes('/tcp/'))!]
    const [x, y] = await Promise.all(['a', 'b'].map(async host => await net.start(host, { bootstrap: bootB, args: ['--reachability', 'private'], signal })))
    const yCid = await add(y, big, signal)
    await connect(x, await relayedAddr(y, BULK_RELAY, signal), signal)
    const relayedGet = await get(x, yCid, join(dir, 'relayed.out'), signal)
    log(`relayed (opted-in relay) ${size / MiB} MiB: ${relayedGet.code ?? 'ok'} in ${relayedGet.ms} ms`)

    const mbps = (r: { ms: number, bytes: number, code: string | null }): number | null => r.code == null ? round(r.bytes / 1e6 / (r.ms / 1000), 1) : null
    const summary = (list: Trial[]): { success: string, msToDirect: Summary, relayOnlyErrorMs: Summary, errors: Array<string | null> } => ({
      success: `${list.filter(t => t.punched).length}/${list.length}`,
      msToDirect: summarize(list.map(t => t.msToDirect)),
      relayOnlyErrorMs: summarize(list.map(t => t.relayOnlyErrorMs)),
      errors: list.map(t => t.errorCode)
    })
    const machine = machineInfo()
    const result = {
      benchmark: 'nat',
      date: new Date().toISOString(),
      machine,
      params: { trials, sizeMiB: size / MiB, punchWaitMs: PUNCH_WAIT_MS, transports: 'TCP + QUIC listening (libp2p picks)' },
      cone: summary(punch.cone),
      symmetric: summary(punch.symmetric),
      throughput: { directMBps: mbps(directGet), directCode: directGet.code, relayedOptInMBps: mbps(relayedGet), relayedCode: relayedGet.code }
    }
    process.stdout.write(JSON.stringify(result, null, 2) + '\n')
    if (values['no-docs'] !== true) {
      const row = (kind: string, s: ReturnType<typeof summary>): string => `| ${kind} ↔ ${kind} | ${s.success} | ${s.msToDirect.median ?? '—'} / ${s.msToDirect.p90 ?? '—'} | ${s.relayOnlyErrorMs.median ?? '—'} / ${s.relayOnlyErrorMs.max ?? '—'} | ${s.errors.map(e => e ?? 'ok').join(', ')} |`
      await writeSection('nat', `Run: \`npm run bench -- nat --trials ${trials} --size-mib ${size / MiB}\` — ${result.date.slice(0, 16).replace('T', ' ')} UTC on ${describeMachine(machine)}.

Real daemons in the network lab (src/netlab): a public relay, each NATed host behind its own
iptables router (cone = MASQUERADE, symmetric = \`--random-fully\`), fresh daemons per trial,
TCP and QUIC listening. A trial: the downloader connects to the holder's relayed address, waits
${PUNCH_WAIT_MS / 1000} s for DCUtR to leave it a direct connection (status \`nat.peers\`), then \`get\`s a 1 MiB file
from it. Why js-libp2p cannot punch these NATs: docs/nat.md, "Hole punching".

| topology | punched | ms to direct (median / p90) | relay-only error ms (median / max) | get results |
|---|---|---|---|---|
${row('cone', result.cone)}
${row('symmetric', result.symmetric)}

Throughput, ${size / MiB} MiB \`get\` incl. provider search: public ↔ public (direct) **${result.throughput.directMBps ?? directGet.code} MB/s**; NATed ↔ NATed through a relay whose operator opted in (\`nat.relay.bulkBytes\`) **${result.throughput.relayedOptInMBps ?? relayedGet.code} MB/s**. No punched connection to measure (issue target: ≥ 90 % of direct).
`)
    }
  } finally {
    for (const net of nets) await net.stop().catch(() => {})
    await lab?.stop()
    await rm(dir, { recursive: true, force: true })
  }
}
