import { parseArgs } from 'node:util'
import { setMaxListeners } from 'node:events'
import { mkdtemp, rm } from 'node:fs/promises'
import { cpus, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { Testnet, type TestnetMember } from '../src/testnet/testnet.js'
import type { GetEvent } from '../src/sharing/events.js'
import type { NodeStatus } from '../src/node/status.js'
import { SwarmGrower } from './lib/swarm.js'
import { machineInfo } from './lib/machine.js'
import { backgroundCores, cpuSnapshot, measureBackground } from './lib/background.js'
import { clockTicks, readStat } from './lib/proc.js'
import { writeSection, BENCHMARKS_DOC, saveResults } from './lib/docs.js'
import { round } from './lib/stats.js'
import { addFile, cidStats, getFile, MiB, servedBy, sha256File, status, writeRandomFile, type CidStats } from './lib/content.js'
import { watchReplicas } from './lib/replica-watch.js'
import { waitForTables } from './lib/settle.js'
import { OfferLog, type OfferCounts } from './lib/offer-log.js'
import { renderCrowdMarkdown } from './crowd/markdown.js'
import type { BenchmarkContext } from './index.js'

export type ReplicationMode = 'on' | 'off'

export interface CrowdParams {
  downloaders: number
  sizeMiB: number
  pollMs: number
  /** provider timeout per get (the daemon's `timeoutMs`), seconds */
  getTimeoutSeconds: number
  batch: number
  modes: ReplicationMode[]
}

export interface DownloadRecord {
  index: number
  ok: boolean
  /** request sent until get:done arrived (fetch + write to the output file), ms */
  wallMs: number | null
  /** the daemon's own fetch time (get:fetched durationMs), ms */
  fetchMs: number | null
  providers: number
  fromPublisherBytes: number
  /** bytes this download received: what its providers delivered, or its last progress for a failure */
  receivedBytes: number
  /** bytes received and thrown away (endgame duplicates, blocks that came after their cancel) */
  wastedBytes: number
  error: string | null
}

export interface ModeResult {
  mode: ReplicationMode
  nodes: number
  swarmStartMs: number
  settle: { ms: number, smallestRoutingTable: number, isolated: number }
  lone: DownloadRecord
  /** CPU seconds all daemons used during the lone download */
  loneCpuSeconds: number
  crowd: {
    allDone: boolean
    /** first request sent until the last get:done, ms */
    allDoneMs: number | null
    allDoneOverLone: number | null
    medianWallMs: number | null
    /** median of the daemons' own fetch times (without writing the output file) */
    medianFetchMs: number | null
    publisherUploadBytes: number
    publisherUploadOverFile: number
    /** /status uploadedBytes growth summed over every node ÷ bytes the downloads received: 1 = no byte sent twice */
    swarmUploadOverDelivered: number
    /** what the downloaders received and threw away (endgame duplicates, blocks after their cancel), ÷ delivered */
    wastedOverDelivered: number
    /** bytes the downloaders say they got from someone other than the publisher, ÷ file */
    servedByPeersOverFile: number
    replicasOverTime: Array<[number, number]>
    /** replica offers for the crowd's file the daemons logged up to the last download's end */
    offers: OfferCounts
    /** CPU seconds all daemons used from the crowd's start to the last download's end */
    cpuSeconds: number
    /**
     * The shortest "all done" the CPU work done allows, ÷ the lone download time: the crowd's
     * daemon CPU-seconds spread perfectly over every CPU of the machine
     */
    cpuBoundOverLone: number | null
    /**
     * The same floor if every crowd download cost the swarm only what the lone one did (its
     * daemon CPU-seconds × downloaders, over every CPU), ÷ the lone download time: what "all done
     * ÷ lone" cannot beat on this machine without making one download itself cheaper
     */
    loneCostFloorOverLone: number | null
    publisherStats: CidStats | null
    /** the publisher's crowd spreading after the crowd: referrals, copies after a wait, probes */
    publisherCrowd: NodeStatus['crowd'] | null
    backgroundCores: number
    downloads: DownloadRecord[]
  }
  failedStarts: string[]
}

function parseParams (args: string[]): CrowdParams & { docs: boolean } {
  const { values } = parseArgs({
    args,
    options: {
      downloaders: { type: 'string', default: '16' },
      'size-mib': { type: 'string', default: '64' },
      'poll-ms': { type: 'string', default: '5000' },
      'get-timeout': { type: 'string', default: '120' },
      batch: { type: 'string', default: '4' },
      modes: { type: 'string', default: 'on,off' },
      'no-docs': { type: 'boolean', default: false }
    }
  })
  const num = (name: 'downloaders' | 'size-mib' | 'poll-ms' | 'get-timeout' | 'batch'): number => {
    const n = Number(values[name])
    if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} must be a positive number, got ${String(values[name])}`)
    return n
  }
  const modes = String(values.modes).split(',').map(m => m.trim())
  if (modes.length === 0 || modes.some(m => m !== 'on' && m !== 'off')) throw new Error(`--modes must be on, off or on,off; got ${String(values.modes)}`)
  return {
    downloaders: Math.max(1, Math.round(num('downloaders'))),
    sizeMiB: num('size-mib'),
    pollMs: num('poll-ms'),
    getTimeoutSeconds: num('get-timeout'),
    batch: Math.round(num('batch')),
    modes: modes as ReplicationMode[],
    docs: values['no-docs'] !== true
  }
}

/**
 * Flash-crowd benchmark: N downloaders ask one publisher's file at the same moment. How much
 * does the publisher upload, and how long until all have it compared with one lone download?
 * Run with demand-driven replication on (the testnet's default config) and off
 * (`kizuna daemon --no-replication`), each on its own fresh swarm.
 */
export async function run (args: string[], { signal, log }: BenchmarkContext): Promise<void> {
  if (args.includes('--lab')) {
    await (await import('./crowd/lab.js')).runLab(args, { signal, log })
    return
  }
  const { docs, ...params } = parseParams(args)
  const startedAt = Date.now()
  const loadBefore = loadavg()[0]
  const backgroundBefore = await measureBackground(3_000, signal)
  if (backgroundBefore > 0.25) log(`warning: other processes keep ${backgroundBefore.toFixed(2)} CPUs busy; the numbers will show it`)
  const dir = await mkdtemp(join(tmpdir(), 'kizuna-bench-crowd-'))
  const modes: ModeResult[] = []
  try {
    for (const mode of params.modes) {
      log(`replication ${mode}: starting ${params.downloaders + 1} daemons`)
      modes.push(await runMode(mode, params, dir, signal, log))
    }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
  const report = {
    benchmark: 'crowd',
    date: new Date().toISOString(),
    machine: machineInfo(),
    params,
    targets: { publisherUploadOverFile: 3, allDoneOverLone: 3 },
    load: { backgroundCoresBefore: round(backgroundBefore, 2), loadAvg1Before: round(loadBefore, 2), loadAvg1After: round(loadavg()[0], 2) },
    totalSeconds: Math.round((Date.now() - startedAt) / 1000),
    modes
  }
  process.stdout.write(JSON.stringify(report) + '\n')
  if (docs) {
    await writeSection('crowd', renderCrowdMarkdown(report))
    await saveResults('crowd', report)
    log(`updated the "## crowd" section of ${BENCHMARKS_DOC}`)
  }
}

async function runMode (mode: ReplicationMode, params: CrowdParams, dir: string, signal: AbortSignal, log: (text: string) => void): Promise<ModeResult> {
  const size = Math.round(params.sizeMiB * MiB)
  const nodes = params.downloaders + 1
  const offers = new OfferLog()
  const testnet = await Testnet.start({ size: 0, mode: 'process', extraArgs: mode === 'off' ? ['--no-replication'] : [], onLine: (_index, line) => { offers.add(line) } })
  const grower = new SwarmGrower(testnet)
  const failedStarts: string[] = []
  setMaxListeners(nodes * 4 + 20, signal)
  try {
    const growStarted = Date.now()
    await grower.grow({
      size: nodes,
      batch: params.batch,
      maxFailures: Math.ceil(nodes / 5),
      signal,
      // SwarmGrower only waits for a start when onStarted is given (`onStarted?.(await start)`)
      onStarted: () => {},
      onFailed: err => { failedStarts.push(err.message.split('\n')[0].slice(0, 200)); log(`a daemon failed to start (replacing it): ${err.message.split('\n')[0]}`) }
    })
    const swarmStartMs = Date.now() - growStarted
    const [publisher, ...crowd] = grower.running()
    const settle = await waitForTables(grower.running(), Math.min(8, nodes - 1), { timeoutMs: 60_000, signal })
    log(`${nodes} daemons up in ${(swarmStartMs / 1000).toFixed(1)} s; routing tables ≥ ${settle.smallest} after ${(settle.ms / 1000).toFixed(1)} s more${settle.isolated > 0 ? ` (${settle.isolated} nodes with an empty table)` : ''}`)

    // the lone download: another file of the same size, so the crowd's file is still fresh
    const loneSource = join(dir, `${mode}-lone.bin`)
    const loneHash = await writeRandomFile(loneSource, size)
    const loneAdded = await addFile(publisher, loneSource, { signal })
    const daemonPids = (): number[] => testnet.members.flatMap(m => m.child?.isRunning === true ? [m.child.pid] : [])
    const loneCpuBefore = await cpuTicksOf(daemonPids())
    const lone = await download(crowd[0], loneAdded.cid, join(dir, `${mode}-lone.out`), loneHash, publisher, params, signal)
    const loneCpuSeconds = (await cpuTicksOf(daemonPids()) - loneCpuBefore) / clockTicks()
    await rm(loneSource, { force: true })
    log(`lone download: ${lone.ok ? `${((lone.wallMs ?? 0) / 1000).toFixed(1)} s` : `failed: ${lone.error ?? '?'}`}`)

    const source = join(dir, `${mode}-crowd.bin`)
    const hash = await writeRandomFile(source, size)
    const added = await addFile(publisher, source, { signal })
    const pids = testnet.members.flatMap(m => m.child?.isRunning === true ? [m.child.pid] : [])
    const before = await uploadedAll(grower.running(), signal)
    const cpuBefore = await cpuSnapshot(pids)
    const crowdCpuBefore = await cpuTicksOf(pids)
    const watch = watchReplicas(publisher, added.cid, { intervalMs: params.pollMs, signal })
    log(`${crowd.length} downloaders start at once`)
    const crowdStarted = Date.now()
    let finished = 0
    const downloads = await Promise.all(crowd.map(async (member, i) => {
      const record = await download(member, added.cid, join(dir, `${mode}-crowd-${i}.out`), hash, publisher, params, signal)
      finished++
      if (finished % 4 === 0 || finished === crowd.length) log(`${finished}/${crowd.length} downloads ended`)
      return { record, endedAt: Date.now() }
    }))
    const allDoneAt = Math.max(...downloads.map(d => d.endedAt))
    const cpuSeconds = (await cpuTicksOf(pids) - crowdCpuBefore) / clockTicks()
    const crowdOffers = offers.of(added.cid)
    // one more answered poll after the last download, so the count includes the finished copies
    const afterPolls = watch.samples.length
    const lastPollBy = Date.now() + 30_000
    while (watch.samples.length === afterPolls && Date.now() < lastPollBy) await sleep(250, undefined, { signal })
    await watch.stop()
    const cpuAfter = await cpuSnapshot(pids)
    const after = await uploadedAll(grower.running(), signal)
    const publisherStats = await cidStats(publisher, added.cid, signal).catch(() => null)
    const publisherCrowd = (await status(publisher, signal).catch(() => null))?.crowd ?? null
    await rm(source, { force: true })

    const records = downloads.map(d => d.record)
    const allDone = records.every(r => r.ok)
    const allDoneMs = allDone ? allDoneAt - crowdStarted : null
    const publisherUploadBytes = (after.get(publisher.index) ?? 0) - (before.get(publisher.index) ?? 0)
    const swarmUpload = [...after].reduce((sum, [index, bytes]) => sum + bytes - (before.get(index) ?? bytes), 0)
    const received = records.reduce((sum, r) => sum + r.receivedBytes, 0)
    const peerBytes = records.reduce((sum, r) => sum + r.providersBytes - r.fromPublisherBytes, 0)
    // CPU-seconds spread perfectly over every CPU, as a multiple of the lone download's time
    const overLone = (cpuSecondsOfWork: number): number | null => lone.ok && lone.wallMs != null ? round(cpuSecondsOfWork / cpus().length / (lone.wallMs / 1000), 2) : null
    const okMedian = (pick: (r: DownloadWork) => number | null): number | null => {
      const values = records.flatMap(r => { const v = pick(r); return r.ok && v != null ? [v] : [] }).sort((a, b) => a - b)
      return values.length === 0 ? null : values[Math.floor((values.length - 1) / 2)]
    }
    return {
      mode,
      nodes,
      swarmStartMs,
      settle: { ms: settle.ms, smallestRoutingTable: settle.smallest, isolated: settle.isolated },
      lone: strip(lone),
      loneCpuSeconds: round(loneCpuSeconds, 1),
      crowd: {
        allDone,
        allDoneMs,
        allDoneOverLone: allDoneMs != null && lone.ok && lone.wallMs != null ? round(allDoneMs / lone.wallMs, 2) : null,
        medianWallMs: okMedian(r => r.wallMs),
        medianFetchMs: okMedian(r => r.fetchMs),
        publisherUploadBytes,
        publisherUploadOverFile: round(publisherUploadBytes / size, 2),
        swarmUploadOverDelivered: received > 0 ? round(swarmUpload / received, 2) : 0,
        wastedOverDelivered: received > 0 ? round((records.reduce((sum, r) => sum + r.wastedBytes, 0) + after.late - before.late) / received, 2) : 0,
        servedByPeersOverFile: round(peerBytes / size, 2),
        replicasOverTime: watch.samples,
        offers: crowdOffers,
        cpuSeconds: round(cpuSeconds, 1),
        cpuBoundOverLone: overLone(cpuSeconds),
        loneCostFloorOverLone: overLone(crowd.length * loneCpuSeconds),
        publisherStats,
        publisherCrowd,
        backgroundCores: round(backgroundCores(cpuBefore, cpuAfter), 2),
        downloads: records.map(strip)
      },
      failedStarts
    }
  } finally {
    await grower.settle()
    log(`replication ${mode}: stopping the swarm`)
    await testnet.stop()
  }
}

type DownloadWork = DownloadRecord & { providersBytes: number }

function strip (record: DownloadWork): DownloadRecord {
  const { providersBytes: _, ...rest } = record
  return rest
}

/** One `POST /get` to a file, timed from the request to `get:done`, then the output hashed */
async function download (member: TestnetMember, cid: string, output: string, sha256: string, publisher: TestnetMember, params: CrowdParams, signal: AbortSignal): Promise<DownloadWork> {
  const started = Date.now()
  let fetchMs: number | null = null
  let progressBytes = 0
  let wastedBytes = 0
  const onEvent = (event: GetEvent): void => {
    if (event.type === 'get:fetched') {
      fetchMs = event.durationMs
      wastedBytes = event.wastedBytes
    }
    if (event.type === 'get:progress') progressBytes = event.bytesDone
  }
  try {
    const done = await getFile(member, cid, { output, timeoutMs: params.getTimeoutSeconds * 1000, signal, onEvent })
    const wallMs = Date.now() - started
    const ok = await sha256File(output) === sha256
    const served = servedBy([done])
    return {
      index: member.index,
      ok,
      wallMs,
      fetchMs,
      providers: done.providers.length,
      fromPublisherBytes: served.get(publisher.peerId) ?? 0,
      providersBytes: [...served.values()].reduce((a, b) => a + b, 0),
      receivedBytes: [...served.values()].reduce((a, b) => a + b, 0),
      wastedBytes,
      error: ok ? null : 'sha256 mismatch'
    }
  } catch (err) {
    signal.throwIfAborted()
    return { index: member.index, ok: false, wallMs: Date.now() - started, fetchMs, providers: 0, fromPublisherBytes: 0, providersBytes: 0, receivedBytes: progressBytes, wastedBytes, error: (err as Error).message.slice(0, 300) }
  }
  // The output stays until the run's directory goes: a downloader serves the file's leaves from it
}

async function uploadedAll (members: TestnetMember[], signal: AbortSignal): Promise<Map<number, number> & { late: number }> {
  const result = Object.assign(new Map<number, number>(), { late: 0 })
  await Promise.all(members.map(async m => {
    const s = await status(m, signal).catch(() => undefined)
    if (s != null) result.set(m.index, s.uploadedBytes)
    result.late += s?.exchange.lateBlockBytes ?? 0
  }))
  return result
}

/** utime + stime of the given processes, in clock ticks (a process that is gone counts 0) */
async function cpuTicksOf (pids: number[]): Promise<number> {
  const ticks = await Promise.all(pids.map(async pid => (await readStat(pid).catch(() => undefined))?.cpuTicks ?? 0))
  return ticks.reduce((a, b) => a + b, 0)
}
