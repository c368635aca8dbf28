import { describeMachine } from '../lib/machine.js'
import type { LabCrowdReport } from './lab.js'
import { LAB_TARGETS, verdict } from './lab.js'
import type { CrowdFigures } from './lab-common.js'

const sec = (ms: number | null): string => ms == null ? '—' : (ms / 1000).toFixed(1)
const pct = (v: number | null): string => v == null ? '—' : `${Math.round(v * 100)} %`
const x = (v: number | null): string => v == null ? '—' : `${v}×`

const tcp = (f: CrowdFigures): string => f.tcp == null ? '—' : `${(f.tcp.retransmittedShare * 100).toFixed(1)} % (${f.tcp.uplinkDrops})`

/** Blocks the downloaders served on while they still arrived (cut-through, src/exchange/server/relay-block.ts) */
const relayed = (k: { downloaderCounters: Array<{ blocksRelayed?: number }> }): number => k.downloaderCounters.reduce((sum, c) => sum + (c.blocksRelayed ?? 0), 0)

function row (name: string, f: CrowdFigures, extra: string): string {
  const done = `${f.downloads.filter(d => d.ok).length}/${f.downloads.length}`
  return `| ${name} | ${sec(f.loneMs)} | ${sec(f.allDoneMs)} (${done}) | ${x(f.allDoneOverLone)} | ${sec(f.medianMs)} | ${x(f.medianOverLone)} | ${f.publisherUploadOverFile}× | ${f.swarmTxOverDelivered}× | ${pct(f.publisherUplinkUse)} | ${pct(f.swarmUplinkUse)} | ${tcp(f)} | ${Math.round(f.cpuIdleShare * 100)} % | ${extra} |`
}

/** The "## crowd --lab" section of docs/benchmarks.md */
export function renderLabMarkdown (report: LabCrowdReport, charts: string[]): string {
  const { params } = report
  const lines = [
    `\`npm run bench -- crowd --lab\` (root; flags \`--downloaders ${params.downloaders} --size-mib ${params.sizeMiB} --uplink-mbit ${params.uplinkMbit} --downlink-mbit ${params.downlinkMbit}\`): 1 publisher + ${params.downloaders} downloaders, each its own`,
    'network-namespace host on one lab segment (src/netlab/), uplink and downlink shaped with tbf, no added latency (no netem here).',
    `Kizuna: a daemon per host (mDNS off: internet hosts meet by bootstrap and the DHT), fresh daemons per replication mode; first an unmeasured warm-up crowd of ${params.warmupMiB} MiB (so the daemons run JIT-compiled code, as long-running ones do),`,
    'then a lone download of its own file, then every downloader asks the crowd\'s file at once. BitTorrent baseline in the same lab and run: opentracker + an aria2c seeder on the publisher host, an aria2c leecher per',
    'downloader host (DHT/PEX/LPD off; leechers keep seeding). Publisher upload = bytes its eth0 sent (kernel counters, headers included) ÷ file;',
    'The baseline needs `apt-get install -y aria2 mktorrent opentracker` (Debian); without them the bench says so and skips it (`--no-bittorrent` skips it too).',
    'swarm tx = every host\'s eth0 bytes ÷ (file × downloaders). Uplink use = bytes sent ÷ what the uplink(s) could send until all were done. CPU idle = the whole machine\'s idle share during the crowd (/proc/stat).',
    'TCP retransmitted = segments every host sent again ÷ all it sent during the crowd (/proc/net/snmp in each namespace); uplink drops = packets the hosts\' uplink tbf dropped.',
    '',
    `Measured ${report.date.slice(0, 16).replace('T', ' ')} UTC on ${describeMachine(report.machine)}; load average ${report.load.loadAvg1Before} before, ${report.load.loadAvg1After} after (other developers' work shares these CPUs); ${report.totalSeconds} s in all. Namespaces left after: ${report.namespacesLeft.length}.`,
    '',
    '| system | lone s | all done s | all ÷ lone | median s | median ÷ lone | publisher ÷ file | swarm tx ÷ delivered | publisher uplink use | all uplinks use | TCP retransmitted (uplink drops) | CPU idle | notes |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|',
    ...report.kizuna.map(k => row(`Kizuna, replication ${k.mode}`, k, `daemons used ${Math.round(k.daemonCpuShare * 100)} % of the CPUs (${k.daemonCpuSeconds} CPU-s, ${k.daemonSystemSeconds} in the kernel); machine user/system/softirq ${pct(k.cpuShares.user)}/${pct(k.cpuShares.system)}/${pct(k.cpuShares.softirq)}; ${relayed(k)} blocks passed on while still arriving`)),
    ...('allDoneMs' in report.bittorrent ? [row('BitTorrent (aria2c)', report.bittorrent, report.bittorrent.aria2)] : [`| BitTorrent | skipped: ${report.bittorrent.skipped} ||||||||||||`]),
    '',
    'Targets (Kizuna):',
    ...report.kizuna.map(k => `- replication ${k.mode}: all done ≤ ${LAB_TARGETS.allDoneOverLone}× lone: ${verdict(k.allDoneOverLone, LAB_TARGETS.allDoneOverLone)}; median ≤ ${LAB_TARGETS.medianOverLone}× lone: ${verdict(k.medianOverLone, LAB_TARGETS.medianOverLone)}; publisher upload ≤ ${LAB_TARGETS.publisherUploadOverFile}× file: ${verdict(k.publisherUploadOverFile, LAB_TARGETS.publisherUploadOverFile)}`),
    '',
    `Kizuna ÷ BitTorrent, all-done time: ${Object.entries(report.kizunaOverBittorrent).map(([mode, r]) => `replication ${mode} ${x(r ?? null)}`).join(', ') || '—'}.`,
    '',
    'Each download\'s progress over time (written by the bench; JSON in bench/crowd/lab-results.json):',
    '',
    ...charts.map(c => `![${c.replace(/^docs\/charts\/|\.svg$/g, '')}](${c.replace(/^docs\//, '')})`)
  ]
  return lines.join('\n')
}
