import { describeMachine, type MachineInfo } from '../lib/machine.js'
import type { CrowdParams, ModeResult } from '../crowd.js'
import { describeOffers } from '../lib/offer-log.js'

interface CrowdReport {
  date: string
  machine: MachineInfo
  params: CrowdParams
  targets: { publisherUploadOverFile: number, allDoneOverLone: number }
  load: { backgroundCoresBefore: number, loadAvg1Before: number, loadAvg1After: number }
  totalSeconds: number
  modes: ModeResult[]
}

const s = (ms: number | null): string => ms == null ? '–' : (ms / 1000).toFixed(1)
const verdict = (value: number | null, target: number): string => value == null ? '–' : `${value}× ${value <= target ? '(met)' : '(**missed**)'}`

function replicaLine (samples: Array<[number, number]>): string {
  if (samples.length === 0) return 'no poll answered'
  // only the changes, so a long flat run reads as one entry
  const changes = samples.filter((sample, i) => i === 0 || sample[1] !== samples[i - 1][1])
  return changes.map(([t, n]) => `${t} s: ${n}`).join(' → ') + ` (${samples.length} polls, last at ${samples[samples.length - 1][0]} s)`
}

/** The `## crowd` section of docs/benchmarks.md */
export function renderCrowdMarkdown (report: CrowdReport): string {
  const p = report.params
  const rows = report.modes.map(m => {
    const c = m.crowd
    const failed = c.downloads.filter(d => !d.ok).length
    return `| ${m.mode} | ${m.lone.ok ? `${s(m.lone.wallMs)} (${s(m.lone.fetchMs)})` : `failed: ${m.lone.error ?? '?'}`} | ${c.allDone ? s(c.allDoneMs) : `${failed} of ${c.downloads.length} failed`} | ${s(c.medianWallMs)} (${s(c.medianFetchMs)}) | ${verdict(c.allDoneOverLone, report.targets.allDoneOverLone)} | ${verdict(c.publisherUploadOverFile, report.targets.publisherUploadOverFile)} | ${c.servedByPeersOverFile}× | ${c.swarmUploadOverDelivered} | ${c.backgroundCores} |`
  })
  const details = report.modes.map(m => {
    const c = m.crowd
    const errors = c.downloads.filter(d => !d.ok).map(d => `n${d.index}: ${d.error ?? '?'}`)
    const stats = c.publisherStats
    return `- **replication ${m.mode}**: ${m.nodes} daemons started in ${s(m.swarmStartMs)} s${m.failedStarts.length > 0 ? ` (${m.failedStarts.length} failed starts replaced)` : ''}; ` +
      `routing tables ≥ ${m.settle.smallestRoutingTable} ${s(m.settle.ms)} s later${m.settle.isolated > 0 ? ` (**${m.settle.isolated} node${m.settle.isolated === 1 ? '' : 's'} never joined**: empty routing table after the 60 s wait)` : ''}. Replicas (publisher's \`GET /replicas\`, t from the crowd's start): ${replicaLine(c.replicasOverTime)}. ` +
      `Replica offers for the file during the crowd (daemon logs): ${describeOffers(c.offers)}. ` +
      (stats != null ? `Publisher's \`/stats\` after the crowd: ${stats.ratePerMinute.toFixed(1)} requests/min, ${stats.totalRequests.toFixed(1)} in total. ` : '') +
      `Providers per download: median ${median(c.downloads.map(d => d.providers))}. ` +
      `Daemon CPU: ${m.loneCpuSeconds} CPU-s for the lone download, ${c.cpuSeconds} CPU-s for the crowd (${perMiB(m.loneCpuSeconds, 1, p.sizeMiB)} vs ${perMiB(c.cpuSeconds, c.downloads.filter(d => d.ok).length, p.sizeMiB)} CPU-s per MiB delivered); ` +
      `spread perfectly over ${report.machine.cpus.count} CPUs that work alone takes ${c.cpuBoundOverLone ?? '–'}× the lone download; ` +
      `had each of the ${c.downloads.length} downloads cost the swarm only what the lone one did, ${c.loneCostFloorOverLone ?? '–'}×.` +
      (errors.length > 0 ? ` Failures: ${errors.join('; ')}.` : '')
  })
  return `
Run: \`npm run bench -- crowd\` — ${report.date.slice(0, 16).replace('T', ' ')} UTC on ${describeMachine(report.machine)}.
The run took ${report.totalSeconds} s. Flags used: \`--downloaders ${p.downloaders} --size-mib ${p.sizeMiB} --poll-ms ${p.pollMs} --get-timeout ${p.getTimeoutSeconds} --batch ${p.batch} --modes ${p.modes.join(',')}\`.

${p.downloaders} downloaders and 1 publisher, each a \`kizuna daemon\` process on 127.0.0.1 with the testnet
config (replicas 1, a replication round every 2 s, other fields default), on a fresh swarm per mode.
The publisher adds a ${p.sizeMiB} MiB random file; first one downloader fetches another file of the same size
alone (the **lone** time), then all ${p.downloaders} send \`POST /get\` for the crowd's file at the same moment.
"Replication off" is \`kizuna daemon --no-replication\` on every node: no demand tracking, no offers.

| replication | lone download (s) | all ${p.downloaders} done (s) | median download (s) | all done ÷ lone (target ≤ ${report.targets.allDoneOverLone}) | publisher upload ÷ file (target ≤ ${report.targets.publisherUploadOverFile}) | served by peers ÷ file | swarm upload ÷ delivered | other load (CPUs) |
|---|---:|---:|---:|---:|---:|---:|---:|---:|
${rows.join('\n')}

${details.join('\n')}

Definitions:
- **download time**: from sending \`POST /get\` (with an output path) until its \`get:done\` event, so it includes
  finding providers and writing the file out; every output's sha256 was checked against the source. In brackets:
  the daemon's own fetch time (\`get:fetched\` \`durationMs\`), without writing the output file.
- **all done**: from the moment all requests were sent until the last \`get:done\`.
- **publisher upload**: growth of the publisher's \`/status\` \`uploadedBytes\` over the crowd phase, ÷ file size.
- **served by peers**: bytes the downloaders' \`get:done\` \`providers\` credit to anyone but the publisher, ÷ file size.
- **swarm upload ÷ delivered**: growth of \`uploadedBytes\` summed over all nodes ÷ the bytes the downloads received
  (their providers' shares, or the last progress of a failed one); above 1 means bytes were sent that no download
  used (duplicates, blocks a cancelled request still carried, replica probes and replica fetches).
- **replicas over time**: \`GET /replicas/:cid\` on the publisher about every ${p.pollMs / 1000} s during the crowd, plus one answered poll after the last
  download ended; each poll is a
  DHT search plus a holder query and a one-block probe per holder, so polls can take longer than the interval,
  and they load the swarm they measure (a DHT walk costs a 17-daemon swarm ~0.5 CPU-s): hence 5 s, not 2 s.
  Downloaders that finished keep a cached copy and count as holders in both modes.

Caveats: all ${p.downloaders + 1} daemons, their noise encryption and the benchmark share ${report.machine.cpus.count} CPUs, so the
crowd is CPU-bound, not network-bound: ${p.downloaders} downloads move ${p.downloaders}× the bytes of one, and every byte costs CPU to
encrypt, decrypt, hash and store whoever serves it. The "daemon CPU" figures above give the floor this sets on
"all done ÷ lone" here; a target of ≤ ${report.targets.allDoneOverLone}× assumes the publisher's uplink, not the CPU, is the limit.
With replication off the daemons do not mount the replication protocol, so they do not answer holder queries and
\`GET /replicas\` shows only the publisher itself whatever the swarm holds.
Machine load: other processes kept ${report.load.backgroundCoresBefore} CPUs busy just before the run; the "other load" column is the average
during each crowd phase (from /proc/stat minus the benchmark and its daemons). 1-minute load average ${report.load.loadAvg1Before} before, ${report.load.loadAvg1After} after.
`
}

function median (values: number[]): number | string {
  if (values.length === 0) return '–'
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor((sorted.length - 1) / 2)]
}

function perMiB (cpuSeconds: number, copies: number, sizeMiB: number): string {
  return copies === 0 ? '–' : (cpuSeconds / (copies * sizeMiB)).toFixed(2)
}
