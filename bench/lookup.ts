import { parseArgs } from 'node:util'
import { setMaxListeners } from 'node:events'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { createHash, randomBytes } from 'node:crypto'
import { tmpdir, loadavg } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { Testnet, type TestnetMember } from '../src/testnet/testnet.js'
import { SwarmGrower } from './lib/swarm.js'
import { waitForTables } from './lib/settle.js'
import { addFile, sha256File } from './lib/content.js'
import { machineInfo } from './lib/machine.js'
import { cpuSnapshot, backgroundCores } from './lib/background.js'
import { clockTicks } from './lib/proc.js'
import { summarize, round, type Summary } from './lib/stats.js'
import { writeSection, saveResults } from './lib/docs.js'
import { timedGet, apiRoundTripMs, pingRttMs, type GetTiming } from './lookup/timing.js'
import { lookupMarkdown } from './lookup/markdown.js'
import type { BenchmarkContext } from './index.js'

interface Published { cid: string, publisher: TestnetMember, sha256: string, holders: Set<number> }

export interface LookupReport {
  benchmark: 'lookup'
  date: string
  machine: ReturnType<typeof machineInfo>
  loadavg: { before: number[], after: number[] }
  /** CPUs kept busy during the gets by processes other than the bench and its daemons */
  backgroundCores: number
  /** CPU-s per s the daemons used during the gets (an idle swarm's own churn included) */
  swarmCores: number
  /** --quiet-cores: how long the gets waited for the swarm to fall below that many CPUs, and where it got */
  quietBeforeGets: { ms: number, cores: number } | null
  params: { nodes: number, files: number, gets: number, sizeBytes: number, replication: false }
  swarm: { startMs: number, settleMs: number, smallestTable: number }
  /** ms; client side (request → event over the API) unless named daemon */
  get: Record<'firstProvider' | 'block' | 'total' | 'daemon' | 'exportToDone', Summary>
  origins: Record<string, number>
  floors: Record<'apiRoundTrip' | 'pingRtt' | 'localGet', Summary>
  verified: number
  failures: string[]
  gets: GetTiming[]
}

const ms = (values: Array<number | null>): Summary => {
  const s = summarize(values)
  const r = (v: number | null): number | null => v == null ? null : round(v, 1)
  return { n: s.n, median: r(s.median), p90: r(s.p90), max: r(s.max) }
}
const pick = <T>(xs: T[]): T => xs[Math.floor(Math.random() * xs.length)]

/**
 * Small gets in a settled swarm: `--nodes` daemons (replication off) publish `--files` 1 KiB
 * files from random members; `--gets` gets, one at a time, each by a member that holds nothing
 * of that file, are timed over the API. Floors in the same run: the API's own round trip, a
 * libp2p ping on an open connection, and a get of content already local (export only).
 */
export async function run (args: string[], { signal, log }: BenchmarkContext): Promise<void> {
  const { values } = parseArgs({ args, options: { nodes: { type: 'string', default: '20' }, files: { type: 'string', default: '40' }, gets: { type: 'string', default: '40' }, size: { type: 'string', default: '1024' }, batch: { type: 'string', default: '2' }, 'quiet-cores': { type: 'string' }, 'no-docs': { type: 'boolean', default: false } } })
  const nodes = Number(values.nodes)
  const fileCount = Number(values.files)
  const getCount = Number(values.gets)
  const sizeBytes = Number(values.size)
  const dir = await mkdtemp(join(tmpdir(), 'kizuna-lookup-'))
  const testnet = await Testnet.start({ size: 0, mode: 'process', extraArgs: ['--no-replication'] })
  const grower = new SwarmGrower(testnet)
  setMaxListeners(nodes * 4 + 20, signal)
  const loadBefore = loadavg().map(v => round(v, 2))
  try {
    const t0 = Date.now()
    await grower.grow({ size: nodes, batch: Number(values.batch), maxFailures: nodes, signal, onStarted: () => {}, onFailed: err => { log(`a daemon failed to start (replacing it): ${err.message.split('\n')[0]}`) } })
    const startMs = Date.now() - t0
    const members = grower.running()
    const settle = await waitForTables(members, Math.min(8, nodes - 1), { timeoutMs: 60_000, signal })
    log(`${members.length} daemons up in ${(startMs / 1000).toFixed(1)} s; routing tables ≥ ${settle.smallest} after ${(settle.ms / 1000).toFixed(1)} s more`)

    const published: Published[] = []
    for (let i = 0; i < fileCount; i++) {
      const bytes = randomBytes(sizeBytes)
      const path = join(dir, `file-${i}.bin`)
      await writeFile(path, bytes)
      const publisher = pick(members)
      const added = await addFile(publisher, path, { signal })
      published.push({ cid: added.cid, publisher, sha256: createHash('sha256').update(bytes).digest('hex'), holders: new Set([publisher.index]) })
    }
    log(`${fileCount} files of ${sizeBytes} B published from random members`)

    const daemonPids = (): number[] => testnet.members.flatMap(m => m.child?.isRunning === true ? [m.child.pid] : [])
    let quiet: { ms: number, cores: number } | null = null
    if (values['quiet-cores'] != null) {
      quiet = await waitUntilQuiet(daemonPids, Number(values['quiet-cores']), signal)
      log(`swarm at ${quiet.cores} cores after ${(quiet.ms / 1000).toFixed(1)} s more (asked for < ${values['quiet-cores']})`)
    }

    const timings: GetTiming[] = []
    const floors = { apiRoundTrip: [] as number[], pingRtt: [] as number[], localGet: [] as number[] }
    let verified = 0
    const failures: string[] = []
    const ours0 = await cpuSnapshot(daemonPids())
    for (let i = 0; i < getCount; i++) {
      const file = published[i % published.length]
      const getter = pick(members.filter(m => !file.holders.has(m.index)))
      const output = join(dir, `get-${i}.out`)
      floors.apiRoundTrip.push(await apiRoundTripMs(getter, signal))
      let timing: GetTiming
      try {
        timing = await timedGet(getter, file.cid, output, signal)
      } catch (err) {
        // an overloaded swarm may find no provider in time: counted, not the end of the run
        signal.throwIfAborted()
        failures.push(`${(err as { code?: string }).code ?? 'ERR'}: ${(err as Error).message.slice(0, 120)}`)
        log(`get ${i + 1}/${getCount} failed: ${failures[failures.length - 1]}`)
        continue
      }
      timings.push(timing)
      file.holders.add(getter.index)
      if (await sha256File(output) === file.sha256) verified++
      // floors on the same pair, after the get: the connection is open now
      floors.pingRtt.push(await pingRttMs(getter, file.publisher, signal).catch(() => NaN))
      const again = await timedGet(getter, file.cid, join(dir, `get-${i}.local`), signal)
      if (again.local) floors.localGet.push(again.totalMs)
      await rm(output, { force: true })
      await rm(join(dir, `get-${i}.local`), { force: true })
      log(`get ${i + 1}/${getCount}: provider ${fmt(timing.firstProviderMs)} (${timing.origin ?? '-'}), block ${fmt(timing.blockMs)}, exporting ${fmt(timing.exportingMs)}, done ${fmt(timing.totalMs)} ms (daemon ${timing.daemonMs})`)
    }
    const ours1 = await cpuSnapshot(daemonPids())
    const seconds = (ours1.at - ours0.at) / 1000
    const origins: Record<string, number> = {}
    for (const t of timings) origins[t.origin ?? 'none'] = (origins[t.origin ?? 'none'] ?? 0) + 1
    const report: LookupReport = {
      benchmark: 'lookup',
      date: new Date().toISOString(),
      machine: machineInfo(),
      loadavg: { before: loadBefore, after: loadavg().map(v => round(v, 2)) },
      backgroundCores: round(backgroundCores(ours0, ours1), 2),
      swarmCores: round((ours1.ourTicks - ours0.ourTicks) / clockTicks() / seconds, 2),
      quietBeforeGets: quiet,
      params: { nodes, files: fileCount, gets: getCount, sizeBytes, replication: false },
      swarm: { startMs, settleMs: settle.ms, smallestTable: settle.smallest },
      get: {
        firstProvider: ms(timings.map(t => t.firstProviderMs)),
        block: ms(timings.map(t => t.blockMs)),
        total: ms(timings.map(t => t.totalMs)),
        daemon: ms(timings.map(t => t.daemonMs)),
        exportToDone: ms(timings.map(t => t.exportToDoneMs))
      },
      origins,
      floors: { apiRoundTrip: ms(floors.apiRoundTrip), pingRtt: ms(floors.pingRtt), localGet: ms(floors.localGet) },
      verified,
      failures,
      gets: timings.map(t => ({ ...t, totalMs: round(t.totalMs, 1) }))
    }
    log(`get total p50 ${String(report.get.total.median)} ms, daemon p50 ${String(report.get.daemon.median)} ms, exporting→done p50 ${String(report.get.exportToDone.median)} ms; ping p50 ${String(report.floors.pingRtt.median)} ms; load ${report.loadavg.after.join(' ')}`)
    process.stdout.write(JSON.stringify(report, null, 2) + '\n')
    if (values['no-docs'] !== true) {
      await saveResults('lookup', report)
      await writeSection('lookup', lookupMarkdown(report))
    }
  } finally {
    await grower.settle()
    log('stopping the swarm')
    await testnet.stop()
    await rm(dir, { recursive: true, force: true })
  }
}

const fmt = (v: number | null): string => v == null ? '-' : v.toFixed(0)

/** Swarm CPU is sampled over this long while waiting for it to fall */
const QUIET_SAMPLE_MS = 5_000
/** Longest wait for a quiet swarm: a swarm that never settles is measured as it is */
const QUIET_MAX_WAIT_MS = 180_000

/** Waits until the daemons together use fewer than `cores` CPUs over QUIET_SAMPLE_MS (bounded) */
async function waitUntilQuiet (pids: () => number[], cores: number, signal: AbortSignal): Promise<{ ms: number, cores: number }> {
  const started = Date.now()
  let used = Number.POSITIVE_INFINITY
  while (used >= cores && Date.now() - started < QUIET_MAX_WAIT_MS) {
    const before = await cpuSnapshot(pids())
    await sleep(QUIET_SAMPLE_MS, undefined, { signal })
    const after = await cpuSnapshot(pids())
    used = round((after.ourTicks - before.ourTicks) / clockTicks() / ((after.at - before.at) / 1000), 2)
  }
  return { ms: Date.now() - started, cores: used }
}
