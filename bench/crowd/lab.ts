import { parseArgs } from 'node:util'
import { setMaxListeners } from 'node:events'
import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { startLab, listNamespaces, type LabTopology } from '../../src/netlab/index.js'
import { packageRoot } from '../../src/util/package-root.js'
import { machineInfo } from '../lib/machine.js'
import { writeSection, BENCHMARKS_DOC } from '../lib/docs.js'
import { writeRandomFile } from '../lib/content.js'
import { runKizunaMode, downloaderHosts, PUBLISHER, type KizunaModeResult, type LabCrowdParams, type ReplicationMode } from './lab-kizuna.js'
import { bittorrentMissing, runBittorrent, type TorrentResult } from './lab-torrent.js'
import { renderLabMarkdown } from './lab-markdown.js'
import type { BenchmarkContext } from '../index.js'

/** The targets: all done ≤ 3× lone, median ≤ 2× lone, publisher upload ≤ 2× the file */
export const LAB_TARGETS = { allDoneOverLone: 3, medianOverLone: 2, publisherUploadOverFile: 2 }
const SUBNET = '10.77.0.0/24'

function parseParams (args: string[]): LabCrowdParams & { docs: boolean } {
  const { values } = parseArgs({
    args,
    options: {
      lab: { type: 'boolean', default: true },
      downloaders: { type: 'string', default: '16' },
      'size-mib': { type: 'string', default: '64' },
      'uplink-mbit': { type: 'string', default: '40' },
      'downlink-mbit': { type: 'string', default: '200' },
      'get-timeout': { type: 'string', default: '600' },
      'warmup-mib': { type: 'string', default: '4' },
      modes: { type: 'string', default: 'on,off' },
      'no-bittorrent': { type: 'boolean', default: false },
      'no-docs': { type: 'boolean', default: false }
    }
  })
  const num = (name: 'downloaders' | 'size-mib' | 'uplink-mbit' | 'downlink-mbit' | 'get-timeout' | 'warmup-mib', zeroOk = false): number => {
    const n = Number(values[name])
    if (!Number.isFinite(n) || n < 0 || (n === 0 && !zeroOk)) throw new Error(`--${name} must be a ${zeroOk ? 'number ≥ 0' : 'positive number'}, got ${String(values[name])}`)
    return n
  }
  const modes = String(values.modes).split(',').map(m => m.trim()).filter(m => m !== '')
  if (modes.some(m => m !== 'on' && m !== 'off')) throw new Error(`--modes must be on, off or on,off; got ${String(values.modes)}`)
  const downloaders = Math.round(num('downloaders'))
  if (downloaders > 40) throw new Error('--downloaders: at most 40 (one lab host each)')
  return {
    downloaders,
    sizeMiB: num('size-mib'),
    uplinkMbit: num('uplink-mbit'),
    downlinkMbit: num('downlink-mbit'),
    getTimeoutSeconds: num('get-timeout'),
    warmupMiB: num('warmup-mib', true),
    modes: modes as ReplicationMode[],
    bittorrent: values['no-bittorrent'] !== true,
    docs: values['no-docs'] !== true
  }
}

export interface LabCrowdReport {
  benchmark: 'crowd --lab'
  date: string
  machine: ReturnType<typeof machineInfo>
  params: LabCrowdParams
  targets: typeof LAB_TARGETS
  load: { loadAvg1Before: number, loadAvg1After: number }
  totalSeconds: number
  kizuna: KizunaModeResult[]
  bittorrent: TorrentResult | { skipped: string }
  /** Kizuna's all-done ÷ BitTorrent's, per replication mode */
  kizunaOverBittorrent: Partial<Record<ReplicationMode, number | null>>
  namespacesLeft: string[]
}

/**
 * `npm run bench -- crowd --lab`: the flash crowd on lab hosts whose uplinks, not the CPUs, are
 * meant to be the limit; Kizuna with replication on and off, then aria2c over BitTorrent.
 */
export async function runLab (args: string[], { signal, log }: BenchmarkContext): Promise<void> {
  const { docs, ...params } = parseParams(args)
  const startedAt = Date.now()
  const loadBefore = loadavg()[0]
  const hosts = downloaderHosts(params.downloaders)
  const topology: LabTopology = {
    internet: { subnet: SUBNET },
    hosts: [PUBLISHER, ...hosts].map((name, i) => ({ name, segment: 'internet', address: `10.77.0.${10 + i}`, uplinkMbit: params.uplinkMbit, downlinkMbit: params.downlinkMbit }))
  }
  setMaxListeners(params.downloaders * 8 + 40, signal)
  const missing = params.bittorrent ? await bittorrentMissing() : 'off (--no-bittorrent)'
  if (missing != null && params.bittorrent) log(`BitTorrent baseline skipped: ${missing}`)
  log(`lab: ${hosts.length + 1} hosts, uplink ${params.uplinkMbit} Mbit/s, downlink ${params.downlinkMbit} Mbit/s, file ${params.sizeMiB} MiB`)
  const lab = await startLab(topology, { signal })
  const dir = await mkdtemp(join(tmpdir(), 'kizuna-bench-labcrowd-'))
  const kizuna: KizunaModeResult[] = []
  let bittorrent: TorrentResult | { skipped: string } = { skipped: missing ?? '' }
  try {
    for (const mode of params.modes) kizuna.push(await runKizunaMode(lab, mode, params, dir, signal, log))
    if (missing == null) {
      const size = Math.round(params.sizeMiB * 1024 * 1024)
      const files = { lone: join(dir, 'bt-lone.bin'), crowd: join(dir, 'bt-crowd.bin') }
      await writeRandomFile(files.lone, size)
      await writeRandomFile(files.crowd, size)
      bittorrent = await runBittorrent(lab, hosts, params, files, dir, signal, log)
    }
  } finally {
    await lab.stop()
    await rm(dir, { recursive: true, force: true })
  }
  const namespacesLeft = (await listNamespaces()).filter(ns => ns.startsWith(`${lab.prefix}-`))
  if (namespacesLeft.length > 0) log(`warning: namespaces left behind: ${namespacesLeft.join(' ')}`)
  const bt = 'allDoneMs' in bittorrent ? bittorrent.allDoneMs : null
  const report: LabCrowdReport = {
    benchmark: 'crowd --lab',
    date: new Date().toISOString(),
    machine: machineInfo(),
    params,
    targets: LAB_TARGETS,
    load: { loadAvg1Before: Math.round(loadBefore * 100) / 100, loadAvg1After: Math.round(loadavg()[0] * 100) / 100 },
    totalSeconds: Math.round((Date.now() - startedAt) / 1000),
    kizuna,
    bittorrent,
    kizunaOverBittorrent: Object.fromEntries(kizuna.map(k => [k.mode, k.allDoneMs != null && bt != null && bt > 0 ? Math.round(k.allDoneMs / bt * 100) / 100 : null])),
    namespacesLeft
  }
  for (const k of kizuna) {
    log(`kizuna ${k.mode}: lone ${sec(k.loneMs)}, all done ${sec(k.allDoneMs)} (${verdict(k.allDoneOverLone, LAB_TARGETS.allDoneOverLone)}), median ${sec(k.medianMs)} (${verdict(k.medianOverLone, LAB_TARGETS.medianOverLone)}), publisher ÷ file ${k.publisherUploadOverFile} (${verdict(k.publisherUploadOverFile, LAB_TARGETS.publisherUploadOverFile)}), CPU user/system/softirq/idle ${[k.cpuShares.user, k.cpuShares.system, k.cpuShares.softirq, k.cpuShares.idle].map(v => Math.round(v * 100)).join('/')} %, daemons ${k.daemonCpuSeconds} CPU-s (${k.daemonSystemSeconds} kernel)`)
  }
  if ('allDoneMs' in bittorrent) log(`bittorrent: lone ${sec(bittorrent.loneMs)}, all done ${sec(bittorrent.allDoneMs)}, median ${sec(bittorrent.medianMs)}, seeder ÷ file ${bittorrent.publisherUploadOverFile}; kizuna ÷ bittorrent (all done): ${JSON.stringify(report.kizunaOverBittorrent)}`)
  process.stdout.write(JSON.stringify(report) + '\n')
  if (docs) {
    const charts = await writeCharts(report)
    await writeSection('crowd --lab', renderLabMarkdown(report, charts))
    const file = join(packageRoot(), 'bench', 'crowd', 'lab-results.json')
    await writeFile(file, JSON.stringify(report, null, 1) + '\n')
    log(`updated the "## crowd --lab" section of ${BENCHMARKS_DOC}, ${file} and ${charts.join(', ')}`)
  }
}

const sec = (ms: number | null): string => ms == null ? '—' : `${(ms / 1000).toFixed(1)} s`

export function verdict (value: number | null, target: number): string {
  return value == null ? 'missed (no figure)' : value <= target ? `met, ≤ ${target}` : `missed, > ${target}`
}

interface LineSeries { label: string, points: Array<[number, number]> }
type LineChart = (options: { title: string, caption: string, xLabel: string, yLabel: string, series: LineSeries[], yMax?: number }) => string

/** One SVG per system: every download's MiB received over seconds since the crowd started */
async function writeCharts (report: LabCrowdReport): Promise<string[]> {
  const { lineChart } = await import(pathToFileURL(join(packageRoot(), 'scripts', 'bench-charts.mjs')).href) as { lineChart: LineChart }
  const chartDir = join(packageRoot(), 'docs', 'charts')
  await mkdir(chartDir, { recursive: true })
  const systems = [
    ...report.kizuna.map(k => ({ file: `crowd-lab-kizuna-${k.mode}.svg`, name: `Kizuna, replication ${k.mode}`, result: k })),
    ...('allDoneMs' in report.bittorrent ? [{ file: 'crowd-lab-bittorrent.svg', name: `BitTorrent (${report.bittorrent.aria2})`, result: report.bittorrent }] : [])
  ]
  const { params } = report
  for (const system of systems) {
    const series = system.result.downloads.map(d => ({ label: d.host, points: d.progress.map(([ms, bytes]) => [ms / 1000, bytes / 2 ** 20] as [number, number]) }))
    await writeFile(join(chartDir, system.file), lineChart({
      title: `Lab crowd, ${system.name}: ${params.downloaders} downloads of ${params.sizeMiB} MiB`,
      caption: `uplinks ${params.uplinkMbit} Mbit/s, downlinks ${params.downlinkMbit} Mbit/s; ${report.date}`,
      xLabel: 'seconds since the crowd started',
      yLabel: 'MiB received',
      series,
      yMax: params.sizeMiB
    }))
  }
  return systems.map(s => `docs/charts/${s.file}`)
}
