import { parseArgs } from 'node:util'
import { setMaxListeners } from 'node:events'
import { mkdtemp, rm } from 'node:fs/promises'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { Testnet, type TestnetMember } from '../src/testnet/testnet.js'
import type { GetEvent } from '../src/sharing/events.js'
import { SwarmGrower } from './lib/swarm.js'
import { machineInfo } from './lib/machine.js'
import { backgroundCores, cpuSnapshot, measureBackground } from './lib/background.js'
import { writeSection, BENCHMARKS_DOC } from './lib/docs.js'
import { round, summarize, type Summary } from './lib/stats.js'
import { addFile, getFile, MiB, replicas, sha256File, writeRandomFile, type Replica } from './lib/content.js'
import { waitForTables } from './lib/settle.js'
import { OfferLog, type OfferCounts } from './lib/offer-log.js'
import { renderChurnMarkdown } from './churn/markdown.js'
import type { BenchmarkContext } from './index.js'
import { timeoutSignal } from '../src/util/timeout-signal.js'

export type ReplicationMode = 'on' | 'off'

export interface ChurnParams {
  nodes: number
  sizeMiB: number
  /** the floor `add --replicas` asks for with replication on */
  replicas: number
  killFraction: number
  rounds: number
  /** the newcomer's provider timeout (the daemon's get `timeoutMs`), seconds */
  getTimeoutSeconds: number
  /** how long to wait for the floor to show in /replicas before killing anyway, seconds */
  replicaTimeoutSeconds: number
  batch: number
  modes: ReplicationMode[]
}

export interface RoundRecord {
  round: number
  publisher: number
  /** add finished until /replicas on the publisher first listed the floor; null when it never did */
  replicasReadyMs: number | null
  holdersBeforeKill: number
  /** ground truth: running nodes whose GET /ls lists the file just before the kill, and how many of those survive */
  copiesBeforeKill: number
  copiesSurviving: number
  killed: number[]
  killedHolders: number
  survivingHolders: number
  newcomer: number | null
  newcomerStartMs: number | null
  ok: boolean
  /** request until get:done (fetch + write), ms; for a failure, until the error */
  fetchMs: number | null
  /** request until the first provider was named (get:provider), ms */
  firstProviderMs: number | null
  providers: number
  error: string | null
  /** replica offers for this file the daemons logged before the kill */
  offers: OfferCounts
  /** CPUs kept busy by other processes while the newcomer fetched */
  backgroundCores: number
}

export interface ModeResult {
  mode: ReplicationMode
  swarmStartMs: number
  /** routing tables after the first start: smallest, and how many were empty */
  settle: { ms: number, smallestRoutingTable: number, isolated: number }
  rounds: RoundRecord[]
  successRate: number
  fetchMs: Summary
  backgroundCores: number
  failedStarts: string[]
}

function parseParams (args: string[]): ChurnParams & { docs: boolean } {
  const { values } = parseArgs({
    args,
    options: {
      nodes: { type: 'string', default: '20' },
      'size-mib': { type: 'string', default: '16' },
      replicas: { type: 'string', default: '3' },
      'kill-fraction': { type: 'string', default: '0.3' },
      rounds: { type: 'string', default: '3' },
      'get-timeout': { type: 'string', default: '30' },
      'replica-timeout': { type: 'string', default: '90' },
      batch: { type: 'string', default: '4' },
      modes: { type: 'string', default: 'on,off' },
      'no-docs': { type: 'boolean', default: false }
    }
  })
  const num = (name: 'nodes' | 'size-mib' | 'replicas' | 'kill-fraction' | 'rounds' | 'get-timeout' | 'replica-timeout' | 'batch'): number => {
    const n = Number(values[name])
    if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} must be a positive number, got ${String(values[name])}`)
    return n
  }
  const modes = String(values.modes).split(',').map(m => m.trim())
  if (modes.length === 0 || modes.some(m => m !== 'on' && m !== 'off')) throw new Error(`--modes must be on, off or on,off; got ${String(values.modes)}`)
  const killFraction = num('kill-fraction')
  if (killFraction >= 1) throw new Error('--kill-fraction must be below 1')
  return {
    nodes: Math.max(4, Math.round(num('nodes'))),
    sizeMiB: num('size-mib'),
    replicas: Math.round(num('replicas')),
    killFraction,
    rounds: Math.round(num('rounds')),
    getTimeoutSeconds: num('get-timeout'),
    replicaTimeoutSeconds: num('replica-timeout'),
    batch: Math.round(num('batch')),
    modes: modes as ReplicationMode[],
    docs: values['no-docs'] !== true
  }
}

/**
 * Churn benchmark: a publisher adds a file with a replica floor, waits for the floor, then it
 * and a share of the swarm are killed with SIGKILL at once; a newcomer then asks for the file.
 * Does it get it, and how fast? Repeated with a new file (and the swarm topped up) each round,
 * with replication on (`--replicas N`) and off (`--no-replication`, replicas 1).
 */
export async function run (args: string[], { signal, log }: BenchmarkContext): Promise<void> {
  const { docs, ...params } = parseParams(args)
  const startedAt = Date.now()
  const loadBefore = loadavg()[0]
  const backgroundBefore = await measureBackground(3_000, signal)
  if (backgroundBefore > 0.25) log(`warning: other processes keep ${backgroundBefore.toFixed(2)} CPUs busy; the numbers will show it`)
  const dir = await mkdtemp(join(tmpdir(), 'kizuna-bench-churn-'))
  const modes: ModeResult[] = []
  try {
    for (const mode of params.modes) {
      log(`replication ${mode}: starting ${params.nodes} daemons`)
      modes.push(await runMode(mode, params, dir, signal, log))
    }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
  const report = {
    benchmark: 'churn',
    date: new Date().toISOString(),
    machine: machineInfo(),
    params,
    load: { backgroundCoresBefore: round(backgroundBefore, 2), loadAvg1Before: round(loadBefore, 2), loadAvg1After: round(loadavg()[0], 2) },
    totalSeconds: Math.round((Date.now() - startedAt) / 1000),
    modes
  }
  process.stdout.write(JSON.stringify(report) + '\n')
  if (docs) {
    await writeSection('churn', renderChurnMarkdown(report))
    log(`updated the "## churn" section of ${BENCHMARKS_DOC}`)
  }
}

async function runMode (mode: ReplicationMode, params: ChurnParams, dir: string, signal: AbortSignal, log: (text: string) => void): Promise<ModeResult> {
  const size = Math.round(params.sizeMiB * MiB)
  const floor = mode === 'on' ? params.replicas : 1
  const offers = new OfferLog()
  const testnet = await Testnet.start({ size: 0, mode: 'process', extraArgs: mode === 'off' ? ['--no-replication'] : [], onLine: (_index, line) => { offers.add(line) } })
  const grower = new SwarmGrower(testnet)
  const failedStarts: string[] = []
  const rounds: RoundRecord[] = []
  setMaxListeners(params.nodes * 4 + 20, signal)
  let swarmStartMs = 0
  let settle = { ms: 0, smallestRoutingTable: 0, isolated: 0 }
  try {
    for (let r = 1; r <= params.rounds; r++) {
      const growStarted = Date.now()
      await grower.grow({
        size: params.nodes,
        batch: params.batch,
        maxFailures: Math.ceil(params.nodes / 5),
        signal,
        // SwarmGrower only waits for a start when onStarted is given (`onStarted?.(await start)`)
        onStarted: () => {},
        onFailed: err => { failedStarts.push(err.message.split('\n')[0].slice(0, 200)); log(`a daemon failed to start (replacing it): ${err.message.split('\n')[0]}`) }
      })
      if (r === 1) {
        swarmStartMs = Date.now() - growStarted
        const tables = await waitForTables(grower.running(), Math.min(8, params.nodes - 1), { timeoutMs: 60_000, signal })
        settle = { ms: tables.ms, smallestRoutingTable: tables.smallest, isolated: tables.isolated }
        log(`${params.nodes} daemons up in ${(swarmStartMs / 1000).toFixed(1)} s`)
      } else {
        log(`round ${r}: swarm topped up to ${params.nodes} in ${((Date.now() - growStarted) / 1000).toFixed(1)} s`)
      }
      rounds.push(await churnRound(r, testnet, grower, { mode, floor, size, params, dir, signal, log, offers }))
    }
  } finally {
    await grower.settle()
    log(`replication ${mode}: stopping the swarm`)
    await testnet.stop()
  }
  const ok = rounds.filter(r => r.ok)
  const times = summarize(ok.map(r => r.fetchMs))
  return {
    mode,
    swarmStartMs,
    settle,
    rounds,
    successRate: round(ok.length / Math.max(1, rounds.length), 2),
    fetchMs: { ...times, median: times.median == null ? null : Math.round(times.median) },
    backgroundCores: round(rounds.reduce((sum, r) => sum + r.backgroundCores, 0) / Math.max(1, rounds.length), 2),
    failedStarts
  }
}

interface RoundOptions {
  mode: ReplicationMode
  floor: number
  size: number
  params: ChurnParams
  dir: string
  signal: AbortSignal
  log: (text: string) => void
  offers: OfferLog
}

async function churnRound (r: number, testnet: Testnet, grower: SwarmGrower, o: RoundOptions): Promise<RoundRecord> {
  const { signal, log, params } = o
  const running = grower.running()
  const publisher = running[Math.floor(Math.random() * running.length)]
  const source = join(o.dir, `${o.mode}-${r}.bin`)
  const hash = await writeRandomFile(source, o.size)
  const added = await addFile(publisher, source, { replicas: o.floor, signal })
  await rm(source, { force: true })

  // the floor as the publisher sees it: live holders, each probed
  const addedAt = Date.now()
  let holders: Replica[] = []
  let replicasReadyMs: number | null = null
  while (!signal.aborted) {
    holders = await replicas(publisher, added.cid, signal).catch(() => holders)
    if (holders.length >= o.floor) { replicasReadyMs = Date.now() - addedAt; break }
    if (Date.now() - addedAt > params.replicaTimeoutSeconds * 1000) break
    await sleep(1_000, undefined, { signal })
  }
  signal.throwIfAborted()
  log(`round ${r}: n${publisher.index} added ${added.cid.slice(0, 16)}…; ${holders.length} holders ${replicasReadyMs != null ? `after ${(replicasReadyMs / 1000).toFixed(1)} s` : `(floor ${o.floor} not reached in ${params.replicaTimeoutSeconds} s)`}`)

  const others = running.filter(m => m !== publisher)
  const victims = shuffle(others).slice(0, Math.round(others.length * params.killFraction))
  const dead = [publisher, ...victims]
  const holderIds = new Set(holders.map(h => h.peerId))
  const copies = await copiesOf(running, added.cid, signal)
  await Promise.all(dead.map(async m => m.child!.kill()))
  const survivors = grower.running()
  const killedHolders = dead.filter(m => holderIds.has(m.peerId)).length
  log(`round ${r}: killed n${publisher.index} and ${victims.length} others (${killedHolders} of ${holders.length} listed holders; ${copies.size} nodes had a copy, ${survivors.filter(m => copies.has(m.index)).length} of them survive); a newcomer asks for the file`)

  const record: RoundRecord = {
    round: r,
    publisher: publisher.index,
    replicasReadyMs,
    holdersBeforeKill: holders.length,
    copiesBeforeKill: copies.size,
    copiesSurviving: survivors.filter(m => copies.has(m.index)).length,
    killed: dead.map(m => m.index),
    killedHolders,
    survivingHolders: survivors.filter(m => holderIds.has(m.peerId)).length,
    newcomer: null,
    newcomerStartMs: null,
    ok: false,
    fetchMs: null,
    firstProviderMs: null,
    providers: 0,
    error: null,
    offers: o.offers.of(added.cid),
    backgroundCores: 0
  }
  let newcomer: TestnetMember
  const startedAt = Date.now()
  try {
    newcomer = await testnet.add({ bootstrap: [survivors[Math.floor(Math.random() * survivors.length)].addrs[0]] })
  } catch (err) {
    signal.throwIfAborted()
    record.error = `newcomer did not start: ${(err as Error).message.split('\n')[0]}`
    return record
  }
  record.newcomer = newcomer.index
  record.newcomerStartMs = Date.now() - startedAt
  const output = join(o.dir, `${o.mode}-${r}.out`)
  const pids = testnet.members.flatMap(m => m.child?.isRunning === true ? [m.child.pid] : [])
  const cpuBefore = await cpuSnapshot(pids)
  const fetchStarted = Date.now()
  // the provider timeout ends a search that finds nobody; this ends one that finds someone but stalls
  const hardCap = AbortSignal.any([signal, timeoutSignal((params.getTimeoutSeconds + 120) * 1000)])
  try {
    const onEvent = (event: GetEvent): void => {
      if (event.type === 'get:provider' && record.firstProviderMs == null) record.firstProviderMs = Date.now() - fetchStarted
    }
    const done = await getFile(newcomer, added.cid, { output, timeoutMs: params.getTimeoutSeconds * 1000, signal: hardCap, onEvent })
    record.fetchMs = Date.now() - fetchStarted
    record.providers = done.providers.length
    record.ok = await sha256File(output) === hash
    if (!record.ok) record.error = 'sha256 mismatch'
  } catch (err) {
    signal.throwIfAborted()
    record.fetchMs = Date.now() - fetchStarted
    record.error = (err as Error).message.slice(0, 300)
  }
  // the output stays until the run's directory goes: the newcomer serves the file's leaves from it
  record.backgroundCores = round(backgroundCores(cpuBefore, await cpuSnapshot(pids)), 2)
  log(`round ${r}: ${record.ok ? `fetched, sha256 matches, in ${((record.fetchMs ?? 0) / 1000).toFixed(1)} s from ${record.providers} providers` : `FAILED after ${((record.fetchMs ?? 0) / 1000).toFixed(1)} s: ${record.error ?? '?'}`}`)
  return record
}

/** Indexes of the members whose content list (GET /ls) has `cid`: the copies that really exist */
async function copiesOf (members: TestnetMember[], cid: string, signal: AbortSignal): Promise<Set<number>> {
  const has = await Promise.all(members.map(async m => {
    const list = await m.child!.api.get<Array<{ cid: string }>>('/ls', { signal, timeoutMs: 10_000 }).catch(() => [])
    return list.some(entry => entry.cid === cid)
  }))
  return new Set(members.filter((_, i) => has[i]).map(m => m.index))
}

function shuffle<T> (items: T[]): T[] {
  const copy = [...items]
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [copy[i], copy[j]] = [copy[j], copy[i]]
  }
  return copy
}
