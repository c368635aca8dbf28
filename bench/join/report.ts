import { round, summarize, type Summary } from '../lib/stats.js'

/** Everything measured about one daemon; times in ms since the epoch */
export interface NodeRecord {
  index: number
  peerId: string
  pid: number
  bootstrapIndex: number | null
  /** Daemons already ready when this one was spawned */
  swarmAtSpawn: number | null
  spawnedAt: number | null
  readyAt: number | null
  tableFullAt: number | null
  firstLookupAt: number | null
  rssBytes: number | null
  /** CPU seconds used per minute of the idle window */
  cpuSecondsPerMinute: number | null
  /** The daemon's own log line when its bootstrap dial failed */
  bootstrapError: string | null
  /** /status after the idle window */
  final: { known: number, connected: number, routingTableSize: number } | null
}

export interface JoinParams {
  nodes: number
  batch: number
  pollMs: number
  tableThreshold: number
  milestoneTimeoutSeconds: number
  settleSeconds: number
  idleSeconds: number
}

export const DEFINITIONS = {
  spawnToReadyMs: 'process spawn (fork time from /proc/PID/stat) until the daemon printed `ready` (API answering)',
  spawnToTableMs: 'spawn until GET /status first showed routingTableSize >= tableThreshold = ceil(min(20, nodes-1) * 0.5); polled every pollMs',
  spawnToFirstLookupMs: 'spawn until GET /peers first listed a peer with source "dht" other than its bootstrap peer, i.e. one named in a DHT (FIND_NODE) response; peers that connected to it first do not count; polled every pollMs',
  idleRssMiB: 'VmRSS from /proc/PID/status at the end of the idle window',
  idleCpuSecondsPerMinute: 'utime+stime delta from /proc/PID/stat over the idle window (no API polling), per minute; 60 = one core fully busy',
  lateJoiners: 'nodes spawned when more than tableThreshold daemons were already ready: the swarm could fill their table at once, so their times are not bounded by the swarm growing',
  isolated: 'nodes (other than the first) whose routing table was empty after the idle window: they never joined'
}

export const METRICS = {
  spawnToReadyMs: { label: 'spawn → ready (ms)', digits: 0, of: (n: NodeRecord) => diff(n.readyAt, n.spawnedAt) },
  spawnToTableMs: { label: 'spawn → routing table ≥ threshold (ms)', digits: 0, of: (n: NodeRecord) => diff(n.tableFullAt, n.spawnedAt) },
  spawnToFirstLookupMs: { label: 'spawn → first peer learned by lookup (ms)', digits: 0, of: (n: NodeRecord) => diff(n.firstLookupAt, n.spawnedAt) },
  idleRssMiB: { label: 'idle RSS per daemon (MiB)', digits: 1, of: (n: NodeRecord) => n.rssBytes == null ? null : n.rssBytes / 2 ** 20 },
  idleCpuSecondsPerMinute: { label: 'idle CPU per daemon (CPU-s per minute)', digits: 2, of: (n: NodeRecord) => n.cpuSecondsPerMinute }
}
export type Metric = keyof typeof METRICS
export const METRIC_NAMES = Object.keys(METRICS) as Metric[]

export interface Background { beforeStart: number, startPhase: number, idleWindow: number }

export interface JoinResults {
  params: JoinParams
  definitions: typeof DEFINITIONS
  /** first spawn until the last daemon was ready */
  swarmStartMs: number
  idleWindowSeconds: number
  totalSeconds: number
  /** CPUs kept busy by processes other than the benchmark and its daemons */
  backgroundCores: Background
  /** Daemons that did not start (each was replaced by another) */
  failedStarts: string[]
  isolated: Array<{ index: number, bootstrapIndex: number | null, bootstrapError: string | null }>
  finalRoutingTable: Summary
  all: Record<Metric, Summary>
  lateJoiners: Record<Metric, Summary>
  perNode: Array<Record<string, unknown>>
}

export function lateJoiners (nodes: NodeRecord[], params: JoinParams): NodeRecord[] {
  return nodes.filter(n => (n.swarmAtSpawn ?? 0) > params.tableThreshold)
}

function diff (end: number | null, start: number | null): number | null {
  return end == null || start == null ? null : end - start
}

function value (metric: Metric, node: NodeRecord): number | null {
  const v = METRICS[metric].of(node)
  return v == null ? null : round(v, METRICS[metric].digits)
}

function summaries (nodes: NodeRecord[]): Record<Metric, Summary> {
  return Object.fromEntries(METRIC_NAMES.map(metric => {
    const s = summarize(nodes.map(n => value(metric, n)))
    // a median of an even count is a mean of two: round it like the values it came from
    const r = (v: number | null): number | null => v == null ? null : round(v, METRICS[metric].digits)
    return [metric, { n: s.n, median: r(s.median), p90: r(s.p90), max: r(s.max) }]
  })) as Record<Metric, Summary>
}

export function buildResults (
  nodes: NodeRecord[],
  params: JoinParams,
  extra: { swarmStartMs: number, idleWindowSeconds: number, totalSeconds: number, backgroundCores: Background, failedStarts: string[] }
): JoinResults {
  return {
    params,
    definitions: DEFINITIONS,
    swarmStartMs: Math.round(extra.swarmStartMs),
    idleWindowSeconds: round(extra.idleWindowSeconds, 1),
    totalSeconds: Math.round(extra.totalSeconds),
    backgroundCores: Object.fromEntries(Object.entries(extra.backgroundCores).map(([k, v]) => [k, round(v, 2)])) as unknown as Background,
    failedStarts: extra.failedStarts,
    isolated: nodes
      .filter(n => n.index > 0 && (n.final?.routingTableSize ?? 0) === 0)
      .map(n => ({ index: n.index, bootstrapIndex: n.bootstrapIndex, bootstrapError: n.bootstrapError })),
    finalRoutingTable: summarize(nodes.map(n => n.final?.routingTableSize)),
    all: summaries(nodes),
    lateJoiners: summaries(lateJoiners(nodes, params)),
    perNode: nodes.map(n => ({
      index: n.index,
      peerId: n.peerId,
      bootstrapIndex: n.bootstrapIndex,
      swarmAtSpawn: n.swarmAtSpawn,
      ...Object.fromEntries(METRIC_NAMES.map(metric => [metric, value(metric, n)])),
      final: n.final,
      bootstrapError: n.bootstrapError
    }))
  }
}
