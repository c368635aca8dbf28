import { setMaxListeners } from 'node:events'
import { mkdtemp, rm } from 'node:fs/promises'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { startLab, type Lab } from '../src/netlab/index.js'
import { LabTestnet } from '../src/testnet/lab-testnet.js'
import { natLab } from '../src/testnet/nat-lab.js'
import { DEFAULT_CONFIG, type KizunaConfig } from '../src/node/config.js'
import { MiB, writeRandomFile } from './lib/content.js'
import { machineInfo, describeMachine } from './lib/machine.js'
import { summarize, round, type Summary } from './lib/stats.js'
import { writeSection } from './lib/docs.js'
import { PUNCH_WAIT_MS, add, connect, get, relayedAddr, runTrial, type Trial, type TrialKind, type GetResult } from './lib/nat-trial.js'
import type { BenchmarkContext } from './index.js'

/** The lab of this bench: internet 10.79.0.0/24, LANs 192.168.91-94.0/24 (src/testnet/nat-lab.ts) */
const LAB = natLab(79, 90)
const RELAY = LAB.address.relay
const BULK_RELAY = LAB.address.relayb
const NATED = ['--reachability', 'private']

/** Per NAT kind pair: the downloader dials the holder's relayed address (a, b cone; c, d symmetric) */
const KINDS: TrialKind[] = [
  { name: 'cone ↔ cone', downloader: 'a', holder: 'b', downloaderArgs: NATED },
  { name: 'cone ↔ symmetric', downloader: 'a', holder: 'c', downloaderArgs: NATED },
  { name: 'symmetric ↔ symmetric', downloader: 'c', holder: 'd', downloaderArgs: NATED },
  { name: 'public ↔ NAT (cone)', downloader: 'pub', holder: 'b', downloaderArgs: ['--reachability', 'public', '--no-relay'] }
]

const load = (): string => loadavg().map(l => l.toFixed(1)).join(' ')

export async function run (args: string[], { signal, log }: BenchmarkContext): Promise<void> {
  const { values } = parseArgs({ args, options: { trials: { type: 'string', default: '3' }, 'budget-min': { type: 'string', default: '60' }, 'size-mib': { type: 'string', default: '32' }, 'no-throughput': { type: 'boolean', default: false }, 'no-docs': { type: 'boolean', default: false } } })
  // every API call of the run listens on the one signal
  setMaxListeners(Infinity, signal)
  const trials = Number(values.trials)
  // no new round of trials starts after the budget: a round is one trial of every kind
  const budgetMs = Number(values['budget-min']) * 60_000
  const size = Number(values['size-mib']) * MiB
  const dir = await mkdtemp(join(tmpdir(), 'kizuna-bench-nat-'))
  const config: Partial<KizunaConfig> = { mdns: false, replication: false, nat: { ...DEFAULT_CONFIG.nat, upnp: false } }
  const started = Date.now()
  const loadAtStart = load()
  let lab: Lab | undefined
  const nets: LabTestnet[] = []
  try {
    lab = await startLab(LAB.topology, { signal })
    const net = new LabTestnet(lab, { config })
    nets.push(net)
    const relay = await net.start('relay', { args: ['--reachability', 'public'], signal })
    const boot = [relay.addrs.find(a => a.includes(RELAY) && a.includes('/tcp/'))!]
    log('relay up')

    const results = new Map<string, Trial[]>(KINDS.map(k => [k.name, []]))
    let rounds = 0
    for (; rounds < trials && Date.now() - started < budgetMs; rounds++) {
      for (const kind of KINDS) {
        const t0 = Date.now()
        const trial = await runTrial(lab, kind, RELAY, boot, config, dir, `${kind.downloader}${kind.holder}-${rounds}`, signal)
          .catch((err: Error): Trial => {
            // interrupted: stop here, not one failed trial after another
            if (signal.aborted) throw err
            return { punched: false, msToDirect: null, outcome: 'failed', code: err.message.slice(0, 120), getMs: null, ttfbMs: null, directAfterGet: false, dialAttempts: 0, dialErrors: [] }
          })
        results.get(kind.name)!.push(trial)
        log(`${kind.name} #${rounds + 1}: ${trial.punched ? `direct after ${trial.msToDirect} ms` : 'no direct'}; get ${trial.code ?? 'ok'}${trial.directAfterGet ? ' (direct after)' : ''} in ${trial.getMs} ms, ttfb ${trial.ttfbMs}; dials ${trial.dialAttempts} ${trial.dialErrors.join(' | ')}; trial ${Date.now() - t0} ms, load ${load()}`)
      }
    }
    const loadAfterTrials = load()

    let directGet: GetResult | undefined
    let relayedGet: GetResult | undefined
    if (values['no-throughput'] !== true) {
      // public ↔ public (direct), then NATed ↔ NATed through a relay whose operator opted in to bulk
      const bulkNet = new LabTestnet(lab, { config: { ...config, nat: { ...DEFAULT_CONFIG.nat, upnp: false, relay: { ...DEFAULT_CONFIG.nat.relay, bulkBytes: size + 16 * MiB } } } })
      nets.push(bulkNet)
      const pub1 = await net.start('pub', { bootstrap: boot, args: ['--reachability', 'public', '--no-relay'], signal })
      const pub2 = await net.start('pub2', { bootstrap: boot, args: ['--reachability', 'public', '--no-relay'], signal })
      const big = join(dir, 'big.bin')
      await writeRandomFile(big, size)
      directGet = await get(pub2, await add(pub1, big, signal), join(dir, 'direct.out'), signal)
      log(`direct ${size / MiB} MiB: ${directGet.code ?? 'ok'} in ${directGet.ms} ms`)
      const relayB = await bulkNet.start('relayb', { bootstrap: boot, args: ['--reachability', 'public'], signal })
      const bootB = [relayB.addrs.find(a => a.includes(BULK_RELAY) && a.includes('/tcp/'))!]
      const [x, y] = await Promise.all(['a', 'b'].map(async host => await net.start(host, { bootstrap: bootB, args: NATED, signal })))
      const yCid = await add(y, big, signal)
      await connect(x, await relayedAddr(y, BULK_RELAY, signal), signal)
      relayedGet = await get(x, yCid, join(dir, 'relayed.out'), signal)
      log(`relayed (opted-in relay) ${size / MiB} MiB: ${relayedGet.code ?? 'ok'} in ${relayedGet.ms} ms`)
    }

    const mbps = (r?: GetResult): number | null => r != null && r.code == null ? round(r.bytes / 1e6 / (r.ms / 1000), 1) : null
    const summary = (list: Trial[]): { trials: number, punched: number, direct: number, directAfterGet: number, relayOnly: number, failed: number, msToDirect: Summary, ttfbMs: Summary, getMs: Summary, dialRetries: number, dialErrors: string[], codes: Array<string | null> } => ({
      trials: list.length,
      punched: list.filter(t => t.punched).length,
      direct: list.filter(t => t.outcome === 'direct').length,
      directAfterGet: list.filter(t => t.directAfterGet).length,
      relayOnly: list.filter(t => t.outcome === 'relay-only').length,
      failed: list.filter(t => t.outcome === 'failed').length,
      msToDirect: summarize(list.map(t => t.msToDirect)),
      ttfbMs: summarize(list.map(t => t.ttfbMs)),
      getMs: summarize(list.map(t => t.getMs)),
      dialRetries: list.reduce((n, t) => n + Math.max(0, t.dialAttempts - 1), 0),
      dialErrors: [...new Set(list.flatMap(t => t.dialErrors))],
      codes: list.map(t => t.code)
    })
    const machine = machineInfo()
    const result = {
      benchmark: 'nat',
      date: new Date(started).toISOString(),
      machine,
      load: { start: loadAtStart, afterTrials: loadAfterTrials },
      params: { trials, rounds, budgetMin: budgetMs / 60_000, sizeMiB: size / MiB, punchWaitMs: PUNCH_WAIT_MS, transports: 'TCP + QUIC listening (libp2p picks)' },
      wallMs: Date.now() - started,
      kinds: Object.fromEntries(KINDS.map(k => [k.name, summary(results.get(k.name)!)])),
      throughput: { directMBps: mbps(directGet), directCode: directGet?.code, relayedOptInMBps: mbps(relayedGet), relayedCode: relayedGet?.code }
    }
    process.stdout.write(JSON.stringify(result, null, 2) + '\n')
    if (values['no-docs'] !== true) {
      const ms = (s: Summary): string => s.median == null ? '—' : `${s.median} / ${s.p90}`
      const rows = Object.entries(result.kinds).map(([name, s]) => `| ${name} | ${s.trials} | ${s.punched}/${s.trials} | ${ms(s.msToDirect)} | ${s.direct} (${s.directAfterGet}) | ${s.relayOnly} | ${s.failed} | ${ms(s.ttfbMs)} | ${ms(s.getMs)} | ${s.dialRetries} |`).join('\n')
      const cut = rounds < trials ? ` (${rounds} of ${trials} rounds fitted the ${budgetMs / 60_000}-min budget)` : ''
      const throughput = directGet == null
        ? 'Throughput not measured in this run (`--no-throughput`); the last figures are in docs/nat.md.'
        : `Throughput, ${size / MiB} MiB \`get\` incl. provider search: public ↔ public (direct) **${mbps(directGet) ?? directGet.code} MB/s**; NATed ↔ NATed through a relay whose operator opted in (\`nat.relay.bulkBytes\`) **${mbps(relayedGet) ?? relayedGet?.code} MB/s**.`
      await writeSection('nat', `Run: \`npm run bench -- nat ${args.join(' ')}\` — ${result.date.slice(0, 16).replace('T', ' ')} UTC on ${describeMachine(machine)}; load average ${loadAtStart} at start, ${loadAfterTrials} after the trials; ${round(result.wallMs / 60_000, 1)} min.

Real daemons in the network lab (src/netlab, topology src/testnet/nat-lab.ts): a public relay,
each NATed host behind its own iptables router (cone = MASQUERADE, symmetric = \`--random-fully\`),
two fresh daemons per trial, TCP and QUIC listening. A trial: the downloader dials the holder's
relayed address, waits ${PUNCH_WAIT_MS / 1000} s for DCUtR to leave a direct connection (status \`nat.peers\`), then \`get\`s
a 1 MiB file. ${rounds} trials per kind${cut}. Why js-libp2p does not punch: docs/nat.md, "Hole punching".

| kind | trials | punched | ms to direct (median / p90) | get ok (direct connection after it) | \`ERR_RELAY_ONLY\` | other failure | time to first byte, ms (median / p90) | get ms (median / p90) | relayed dial retries |
|---|---|---|---|---|---|---|---|---|---|
${rows}

${throughput}
`)
    }
  } finally {
    for (const net of nets) await net.stop().catch(() => {})
    await lab?.stop()
    await rm(dir, { recursive: true, force: true })
  }
}
