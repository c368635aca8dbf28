import { describeMachine, type MachineInfo } from '../lib/machine.js'
import type { ChurnParams, ModeResult } from '../churn.js'
import { describeOffers } from '../lib/offer-log.js'

interface ChurnReport {
  date: string
  machine: MachineInfo
  params: ChurnParams
  load: { backgroundCoresBefore: number, loadAvg1Before: number, loadAvg1After: number }
  totalSeconds: number
  modes: ModeResult[]
}

const s = (ms: number | null): string => ms == null ? '–' : (ms / 1000).toFixed(1)

/** The `## churn` section of docs/benchmarks.md */
export function renderChurnMarkdown (report: ChurnReport): string {
  const p = report.params
  const killed = Math.round((p.nodes - 1) * p.killFraction)
  const summary = report.modes.map(m => {
    const ok = m.rounds.filter(r => r.ok).length
    return `| ${m.mode === 'on' ? `on, replicas ${p.replicas}` : 'off (`--no-replication`), replicas 1'} | ${ok}/${m.rounds.length} (${Math.round(m.successRate * 100)} %) | ${s(m.fetchMs.median)} | ${s(m.fetchMs.max)} | ${m.backgroundCores} |`
  })
  const rounds = report.modes.flatMap(m => m.rounds.map(r =>
    `| ${m.mode} | ${r.round} | ${r.replicasReadyMs != null ? s(r.replicasReadyMs) : 'never'} | ${describeOffers(r.offers)} | ${r.holdersBeforeKill} (${r.copiesBeforeKill}) | ${r.killedHolders} | ${r.survivingHolders} (${r.copiesSurviving}) | ${s(r.newcomerStartMs)} | ${r.ok ? 'yes' : `**no**: ${shortError(r.error)}`} | ${s(r.firstProviderMs)} | ${s(r.fetchMs)} | ${r.providers} |`
  ))
  const starts = report.modes.map(m => `${m.mode}: ${s(m.swarmStartMs)} s${m.failedStarts.length > 0 ? ` (${m.failedStarts.length} failed starts replaced)` : ''}, routing tables ≥ ${m.settle.smallestRoutingTable} ${s(m.settle.ms)} s later${m.settle.isolated > 0 ? ` (**${m.settle.isolated} isolated**)` : ''}`).join('; ')
  return `
Run: \`npm run bench -- churn\` — ${report.date.slice(0, 16).replace('T', ' ')} UTC on ${describeMachine(report.machine)}.
The run took ${report.totalSeconds} s. Flags used: \`--nodes ${p.nodes} --size-mib ${p.sizeMiB} --replicas ${p.replicas} --kill-fraction ${p.killFraction} --rounds ${p.rounds} --get-timeout ${p.getTimeoutSeconds} --replica-timeout ${p.replicaTimeoutSeconds} --batch ${p.batch} --modes ${p.modes.join(',')}\`.

A swarm of ${p.nodes} \`kizuna daemon\` processes on 127.0.0.1 (testnet config: a replication round every 2 s,
peer timeout 180 s, other fields default), one swarm per mode. Each round: a random node adds a new
${p.sizeMiB} MiB random file (\`add --replicas ${p.replicas}\`, or \`--replicas 1\` with replication off) and the benchmark polls the
publisher's \`GET /replicas\` until it lists that many live holders (at most ${p.replicaTimeoutSeconds} s); then the publisher and
${killed} of the other ${p.nodes - 1} nodes (${Math.round(p.killFraction * 100)} %, chosen at random) get SIGKILL at once, a newcomer starts
bootstrapped from a random survivor and fetches the file by CID. Before the next round the swarm is
topped up to ${p.nodes} nodes. Swarm start-up: ${starts}.

| replication | newcomer got the file (sha256 match) | median fetch (s) | max fetch (s) | other load (CPUs) |
|---|---:|---:|---:|---:|
${summary.join('\n')}

| mode | round | floor listed after (s) | replica offers | holders before kill (copies) | holders killed | holders surviving (copies) | newcomer start (s) | fetched | first provider (s) | fetch (s) | providers used |
|---|---:|---:|---|---:|---:|---:|---:|---|---:|---:|---:|
${rounds.join('\n')}

Definitions:
- **fetch**: the newcomer's \`POST /get\` (with an output path, provider timeout ${p.getTimeoutSeconds} s) until \`get:done\`, or until
  the error when it fails; the newcomer's own start-up is the separate "newcomer start" column.
- **replica offers**: the daemons' own log lines (\`offered CID to PEER (floor): accepted | declined, WHY\` and
  \`now holding a floor replica of CID\`) for the round's file up to the kill, from every node, repairs included.
- **holders**: the publisher's last \`GET /replicas\` answer before the kill (itself included); "surviving" counts
  those not killed. In brackets, **copies**: the nodes whose \`GET /ls\` listed the file just before the kill,
  asked one by one — what really existed, whether or not \`/replicas\` found it.
- **first provider**: from the newcomer's request until its first \`get:provider\` event.
- **other load**: CPUs kept busy by other processes during the newcomers' fetches (from /proc/stat minus the
  benchmark and its daemons), averaged over the rounds.

Caveats: ${p.rounds} rounds per mode is a small sample: a success rate of ${p.rounds}/${p.rounds} says the floor worked each time, not how
often it fails. With replication off nobody but the publisher holds the file when it dies, so that failure
is expected by construction; it is the baseline the floor is measured against.
Machine load: other processes kept ${report.load.backgroundCoresBefore} CPUs busy just before the run; 1-minute load average
${report.load.loadAvg1Before} before, ${report.load.loadAvg1After} after.
`
}

/** The fetch error without the list of missing block CIDs */
function shortError (error: string | null): string {
  return (error ?? '?').replace(/; missing \d+ block\(s\):.*$/, '').replace(/could not fetch \w+: /, '').replace(/\|/g, '/')
}
