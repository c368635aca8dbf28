import { readFile } from 'node:fs/promises'
import { HOST_INTERFACE, tcpSummary, type Lab, type TcpCounters, type TcpSummary } from '../../src/netlab/index.js'

/** One download in a lab crowd: when it ended and how its bytes arrived */
export interface LabDownload {
  host: string
  ok: boolean
  /** start of the crowd (or the lone download) until this download had every byte, ms */
  ms: number | null
  error: string | null
  /** [ms since start, bytes received] */
  progress: Array<[number, number]>
  /** bytes received and thrown away (Kizuna's get:fetched wastedBytes) */
  wastedBytes?: number
  /** when the first provider was found, ms since start, and how (Kizuna's get:provider) */
  firstProvider?: { ms: number, origin: string }
}

/** The crowd figures both systems are judged by (the same formulas for Kizuna and BitTorrent) */
export interface CrowdFigures {
  loneMs: number | null
  allDone: boolean
  allDoneMs: number | null
  medianMs: number | null
  allDoneOverLone: number | null
  medianOverLone: number | null
  /** bytes the publisher's (seeder's) eth0 sent during the crowd, headers included */
  publisherTxBytes: number
  publisherUploadOverFile: number
  /** share of the machine's CPU time that was idle during the crowd (every process, not only ours) */
  cpuIdleShare: number
  cpuShares: CpuShares
  /** the lab hosts' eth0 tx bytes summed ÷ (file × downloaders): 1 = no byte sent twice */
  swarmTxOverDelivered: number
  /** publisher tx ÷ what its uplink could send until all were done: near 1 = its uplink was the limit */
  publisherUplinkUse: number | null
  /** every host's tx ÷ what all uplinks could send until all were done: the share of the swarm's uplink capacity used */
  swarmUplinkUse: number | null
  /** every host's TCP during the crowd: segments sent, retransmitted, RTO timeouts, uplink drops (lab-tcp.ts) */
  tcp: TcpSummary | null
  downloads: LabDownload[]
}

/** Bytes a lab host's eth0 has sent, from the kernel's counters (protocol-neutral) */
export async function txBytes (lab: Lab, host: string): Promise<number> {
  const { stdout } = await lab.exec(host, ['ip', '-s', '-j', 'link', 'show', 'dev', HOST_INTERFACE])
  const [link] = JSON.parse(stdout) as Array<{ stats64?: { tx?: { bytes?: number } } }>
  return link?.stats64?.tx?.bytes ?? 0
}

export async function txBytesAll (lab: Lab, hosts: string[]): Promise<Map<string, number>> {
  return new Map(await Promise.all(hosts.map(async host => [host, await txBytes(lab, host)] as [string, number])))
}

const round2 = (n: number): number => Math.round(n * 100) / 100

export interface CpuTimes { idle: number, total: number, user: number, system: number, softirq: number }

/** Where the machine's CPU time went during the crowd: user code, kernel (syscalls, the lab's veths, bridges and NAT), softirq (packet processing), idle */
export interface CpuShares { user: number, system: number, softirq: number, idle: number }

/** The machine's CPU time so far (/proc/stat, in ticks): idle + iowait, and everything */
export async function cpuTimes (): Promise<CpuTimes> {
  const line = (await readFile('/proc/stat', 'utf8')).split('\n')[0]
  const fields = line.trim().split(/\s+/).slice(1, 9).map(Number)
  // user nice system idle iowait irq softirq steal
  return { idle: fields[3] + fields[4], total: fields.reduce((a, b) => a + b, 0), user: fields[0] + fields[1], system: fields[2] + fields[5], softirq: fields[6] }
}

export function cpuShares (before: CpuTimes, after: CpuTimes): CpuShares {
  const total = Math.max(1, after.total - before.total)
  const share = (key: keyof CpuTimes): number => round2((after[key] - before[key]) / total)
  return { user: share('user'), system: share('system'), softirq: share('softirq'), idle: share('idle') }
}

export function median (values: number[]): number | null {
  if (values.length === 0) return null
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor((sorted.length - 1) / 2)]
}

export function figures (input: { uplinkMbit: number, loneMs: number | null, downloads: LabDownload[], fileBytes: number, publisherTxBytes: number, swarmTxBytes: number, cpu: [CpuTimes, CpuTimes], tcp?: [TcpCounters, TcpCounters] }): CrowdFigures {
  const { loneMs, downloads, fileBytes } = input
  const shares = cpuShares(...input.cpu)
  const allDone = downloads.length > 0 && downloads.every(d => d.ok)
  const allDoneMs = allDone ? Math.max(...downloads.map(d => d.ms ?? 0)) : null
  const medianMs = median(downloads.flatMap(d => d.ok && d.ms != null ? [d.ms] : []))
  const over = (ms: number | null): number | null => ms != null && loneMs != null && loneMs > 0 ? round2(ms / loneMs) : null
  return {
    loneMs,
    allDone,
    allDoneMs,
    medianMs,
    allDoneOverLone: over(allDoneMs),
    medianOverLone: over(medianMs),
    publisherTxBytes: input.publisherTxBytes,
    publisherUploadOverFile: round2(input.publisherTxBytes / fileBytes),
    cpuIdleShare: shares.idle,
    cpuShares: shares,
    swarmTxOverDelivered: round2(input.swarmTxBytes / (fileBytes * Math.max(1, downloads.length))),
    publisherUplinkUse: allDoneMs != null && allDoneMs > 0 ? round2(input.publisherTxBytes * 8 / (input.uplinkMbit * 1e6 * allDoneMs / 1000)) : null,
    swarmUplinkUse: allDoneMs != null && allDoneMs > 0 ? round2(input.swarmTxBytes * 8 / (input.uplinkMbit * 1e6 * (downloads.length + 1) * allDoneMs / 1000)) : null,
    tcp: input.tcp == null ? null : tcpSummary(...input.tcp),
    downloads
  }
}

/** Keeps a progress series small: a point at most every `stepMs`, plus the last one */
export class ProgressSeries {
  readonly points: Array<[number, number]> = []
  constructor (private readonly startedAt: number, private readonly stepMs = 250) {}

  add (bytes: number, at = Date.now()): void {
    const t = at - this.startedAt
    const last = this.points.at(-1)
    if (last != null && t - last[0] < this.stepMs) last[1] = Math.max(last[1], bytes)
    else this.points.push([t, bytes])
  }
}
