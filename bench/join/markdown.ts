import { summarize, type Summary } from '../lib/stats.js'
import { describeMachine, type MachineInfo } from '../lib/machine.js'
import { DEFINITIONS, METRICS, METRIC_NAMES, type JoinResults, type Metric } from './report.js'
import { JOINER_METRICS, type JoinerMetric, type JoinerResults } from './joiners.js'

function table (group: Record<Metric, Summary>): string {
  const cell = (v: number | null): string => v == null ? '–' : String(v)
  return [
    '| metric | median | p90 | max | nodes |',
    '|---|---:|---:|---:|---:|',
    ...METRIC_NAMES.map(metric => {
      const s = group[metric]
      return `| ${METRICS[metric].label} | ${cell(s.median)} | ${cell(s.p90)} | ${cell(s.max)} | ${s.n} |`
    })
  ].join('\n')
}

/** Fresh daemons joining the finished swarm: the headline of the section */
function joinersPart (j: JoinerResults, nodes: number, cores: number, loadAverage: { start: number[], end: number[] }): string {
  const cell = (v: number | null): string => v == null ? '–' : String(v)
  const p = j.params
  const missed = (Object.keys(JOINER_METRICS) as JoinerMetric[]).filter(m => j.summary[m].n < j.perJoin.length)
  const afterReady = (m: JoinerMetric): string => cell(roundOrNull(summarize(j.perJoin.map(r => r[m] == null || r.spawnToReadyMs == null ? null : r[m]! - r.spawnToReadyMs)).median))
  return `### Fresh daemons joining a swarm of ${nodes}

${j.perJoin.length} fresh daemons (of ${j.attempted} started; bounded by \`--joins ${p.joins}\` and \`--joins-budget ${p.budgetSeconds}\` s)
joined the running swarm one at a time, each bootstrapped from one random member. Before each join a random
member added a new random ${p.getBytes}-byte file; the joiner then fetched it by CID (a real provider lookup,
each attempt waiting up to 10 s for a provider, retried until one succeeded). Each joiner was stopped after its milestones (or ${p.joinTimeoutSeconds} s),
so every one met a swarm of the same size. Times are from the joiner's process spawn (/proc), polled every ${p.pollMs} ms;
the first peer is the daemon's own \`joined via …\` line when it came before its API was up. k = ${p.k}.

| milestone | p50 | p90 | max | joins |
|---|---:|---:|---:|---:|
${(Object.keys(JOINER_METRICS) as JoinerMetric[]).map(m => `| ${JOINER_METRICS[m]} | ${cell(j.summary[m].median)} | ${cell(j.summary[m].p90)} | ${cell(j.summary[m].max)} | ${j.summary[m].n} |`).join('\n')}

Measured from \`ready\` instead (the API up), the medians are ${afterReady('spawnToFirstPeerMs')} ms to the first peer, ${afterReady('spawnToTableMs')} ms to the table
and ${afterReady('spawnToGetMs')} ms to the file: on this machine most of a join is the daemon starting.

${missed.length === 0 ? 'Every joiner reached every milestone.' : `Not every joiner reached ${missed.map(m => JOINER_METRICS[m].replace(/ \(ms\)$/, '')).join(', ')} within ${p.joinTimeoutSeconds} s: "joins" counts those that did.`}${j.failedStarts.length > 0 ? ` ${j.failedStarts.length} joiner starts failed: ${j.failedStarts.join('; ')}.` : ''}
**The machine was shared with other developers' work**: load average (1, 5, 15 min) ${loadAverage.start.join(', ')} at the start
and ${loadAverage.end.join(', ')} after the joins, on ${cores} cores — these times are upper bounds, not a quiet-machine figure.
`
}

/** The `## join` section of docs/benchmarks.md */
export function renderMarkdown (report: { date: string, machine: MachineInfo, loadAverage: { start: number[], end: number[] }, results: JoinResults, joins: JoinerResults }): string {
  const r = report.results
  const p = r.params
  const isolated = r.isolated.length === 0
    ? 'Every node joined (non-empty routing table at the end).'
    : `**${r.isolated.length} of ${p.nodes} nodes never joined** (empty routing table at the end): ` +
      r.isolated.map(n => `n${n.index} (bootstrap n${n.bootstrapIndex ?? '?'}${n.bootstrapError != null ? `: ${n.bootstrapError}` : ''})`).join('; ') +
      '. Their statistics above are left out where they never reached a milestone, but their idle RSS/CPU are included.'
  return `
Run: \`npm run bench -- join\` — ${report.date.slice(0, 16).replace('T', ' ')} UTC on ${describeMachine(report.machine)}.
The run took ${r.totalSeconds} s. Flags used: \`--nodes ${p.nodes} --batch ${p.batch} --poll-ms ${p.pollMs} --milestone-timeout ${p.milestoneTimeoutSeconds} --settle ${p.settleSeconds} --idle ${p.idleSeconds} --joins ${report.joins.params.joins} --k ${report.joins.params.k} --join-timeout ${report.joins.params.joinTimeoutSeconds} --joins-budget ${report.joins.params.budgetSeconds}\`.

${joinersPart(report.joins, p.nodes, report.machine.cpus.count, report.loadAverage)}
### Growing the swarm

${p.nodes} \`kizuna daemon\` processes on 127.0.0.1 with the default config (peer timeout 180 s,
a liveness round every 30 s), started ${p.batch} at a time, each bootstrapped from one random
node that was already up. From the first spawn to the last \`ready\` took ${(r.swarmStartMs / 1000).toFixed(1)} s.
When every node had reached both milestones (or ${p.milestoneTimeoutSeconds} s after the last start)
the swarm was left alone for ${p.settleSeconds} s, then idle CPU was measured over ${r.idleWindowSeconds} s.
Routing-table size after the idle window: median ${r.finalRoutingTable.median ?? '–'}, max ${r.finalRoutingTable.max ?? '–'}.

All ${p.nodes} nodes:

${table(r.all)}

Late joiners (${r.lateJoiners.spawnToReadyMs.n} nodes spawned when more than ${p.tableThreshold} daemons were already up, so the swarm could fill their table at once):

${table(r.lateJoiners)}

${isolated}${r.failedStarts.length > 0 ? ` ${r.failedStarts.length} daemon starts failed and were replaced: ${r.failedStarts.join('; ')}.` : ''}

Definitions:
- **spawn → ready**: ${DEFINITIONS.spawnToReadyMs}.
- **routing table ≥ threshold**: threshold = ceil(min(20, N−1) × 0.5) = ${p.tableThreshold}; time from spawn until \`/status\` first showed it, polled every ${p.pollMs} ms.
- **first peer learned by lookup**: there is no lookup endpoint yet, so this is the time from spawn until \`/peers\` first listed a peer with source \`dht\` that is not the node's bootstrap peer — one named in a DHT (FIND_NODE) response. Peers that connected to the node first are recorded as \`identify\` and do not count. Polled every ${p.pollMs} ms.
- **late joiners**: ${DEFINITIONS.lateJoiners}. The first nodes must wait for the swarm to grow before their table can fill.
- **idle RSS / CPU**: ${DEFINITIONS.idleRssMiB}; ${DEFINITIONS.idleCpuSecondsPerMinute}.
- "nodes" is how many daemons the statistic is over: nodes that never reached a milestone are left out.

Caveats: all daemons and the benchmark share ${report.machine.cpus.count} CPUs, so start-up times include waiting
for CPU while the neighbours start, join and run their own liveness rounds; polling every ${p.pollMs} ms adds load
of its own (it stops per node once both milestones are seen). Times are upper bounds by about one poll interval.
Other processes on the machine kept ${r.backgroundCores.beforeStart} CPUs busy just before the run,
${r.backgroundCores.startPhase} on average while the swarm started and ${r.backgroundCores.idleWindow} during the idle window
(from /proc/stat minus the benchmark and its daemons).
`
}

function roundOrNull (v: number | null): number | null {
  return v == null ? null : Math.round(v)
}
