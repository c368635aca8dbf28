import { parseArgs } from 'node:util'
import { setMaxListeners } from 'node:events'
import { setTimeout as sleep } from 'node:timers/promises'
import { Testnet } from '../src/testnet/testnet.js'
import type { NodeStatus } from '../src/node/node.js'
import { SwarmGrower } from './lib/swarm.js'
import { bootTimeMs, clockTicks, readRss, readStat, spawnTimeMs } from './lib/proc.js'
import { machineInfo } from './lib/machine.js'
import { backgroundCores, cpuSnapshot, measureBackground } from './lib/background.js'
import { writeSection, BENCHMARKS_DOC, saveResults } from './lib/docs.js'
import { watchMilestones } from './join/milestones.js'
import { buildResults, type JoinParams, type NodeRecord } from './join/report.js'
import { renderMarkdown } from './join/markdown.js'
import { measureJoiners, type JoinerParams } from './join/joiners.js'
import { round } from './lib/stats.js'
import { loadavg } from 'node:os'
import type { BenchmarkContext } from './index.js'

function parseParams (args: string[]): JoinParams & { docs: boolean, joiners: JoinerParams } {
  const { values } = parseArgs({
    args,
    options: {
      nodes: { type: 'string', default: '30' },
      // the testnet's own default: what a 2-core machine starts at once without starving the rest
      batch: { type: 'string', default: '4' },
      'poll-ms': { type: 'string', default: '100' },
      'milestone-timeout': { type: 'string', default: '45' },
      settle: { type: 'string', default: '15' },
      idle: { type: 'string', default: '60' },
      joins: { type: 'string', default: '20' },
      k: { type: 'string' },
      'join-timeout': { type: 'string', default: '60' },
      'joins-budget': { type: 'string', default: '900' },
      'no-docs': { type: 'boolean', default: false }
    }
  })
  const num = (name: keyof typeof values): number => {
    const n = Number(values[name])
    if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} must be a positive number, got ${String(values[name])}`)
    return n
  }
  const nodes = Math.max(2, Math.round(num('nodes')))
  const tableThreshold = Math.ceil(Math.min(20, nodes - 1) * 0.5)
  return {
    nodes,
    batch: Math.round(num('batch')),
    pollMs: num('poll-ms'),
    tableThreshold,
    milestoneTimeoutSeconds: num('milestone-timeout'),
    settleSeconds: num('settle'),
    idleSeconds: num('idle'),
    docs: values['no-docs'] !== true,
    joiners: {
      joins: Math.round(num('joins')),
      k: values.k != null ? Math.round(num('k')) : tableThreshold,
      joinTimeoutSeconds: num('join-timeout'),
      budgetSeconds: num('joins-budget'),
      pollMs: num('poll-ms'),
      getBytes: 1024
    }
  }
}

/** Other load above this (in CPUs) makes the numbers say more about the neighbours than about Kizuna */
const BUSY_MACHINE_CORES = 0.25

/**
 * Join benchmark: how fast a daemon starts, fills its routing table and learns peers by lookup
 * in a swarm of N processes, and what an idle daemon then costs in memory and CPU; then how fast
 * fresh daemons joining that swarm one at a time get a peer, a routing table of k and a 1 KiB file.
 */
export async function run (args: string[], { signal, log }: BenchmarkContext): Promise<void> {
  const { docs, joiners, ...params } = parseParams(args)
  const loadAverage = { start: loadavg().map(v => round(v, 2)), end: [] as number[] }
  const startedAt = Date.now()
  const readyAt = new Map<number, number>()
  const joinedAt = new Map<number, number>()
  const bootstrapErrors = new Map<number, string>()
  const testnet = await Testnet.start({
    size: 0,
    mode: 'process',
    onLine: (index, line) => {
      if (line === 'ready') readyAt.set(index, Date.now())
      if (line.startsWith('joined via ') && !joinedAt.has(index)) joinedAt.set(index, Date.now())
      const failed = /could not reach bootstrap .*: (.*)$/.exec(line)
      if (failed != null) bootstrapErrors.set(index, failed[1])
    }
  })
  const grower = new SwarmGrower(testnet)
  const probeStop = new AbortController()
  const probeSignal = AbortSignal.any([signal, probeStop.signal])
  // every node's poller listens on these signals at once
  setMaxListeners(params.nodes * 4 + 10, signal, probeSignal)
  const probes: Array<Promise<void>> = []
  const spawnReads: Array<Promise<void>> = []
  const nodes: NodeRecord[] = []
  const failedStarts: string[] = []

  try {
    const bootMs = await bootTimeMs()
    const backgroundBefore = await measureBackground(3_000, signal)
    if (backgroundBefore > BUSY_MACHINE_CORES) log(`warning: other processes keep ${backgroundBefore.toFixed(2)} CPUs busy; the numbers will show it`)
    const beforeStart = await cpuSnapshot([])
    log(`starting ${params.nodes} daemons, ${params.batch} at a time`)
    await grower.grow({
      size: params.nodes,
      batch: params.batch,
      maxFailures: Math.ceil(params.nodes / 5),
      signal,
      onFailed: err => {
        failedStarts.push(err.message.split('\n')[0].slice(0, 200))
        log(`a daemon failed to start (replacing it): ${err.message.split('\n')[0]}`)
      },
      onStarted: (member, via) => {
        const record: NodeRecord = {
          index: member.index, peerId: member.peerId, pid: member.child!.pid, bootstrapIndex: via?.index ?? null,
          swarmAtSpawn: null, spawnedAt: null, readyAt: null, tableFullAt: null, firstLookupAt: null,
          rssBytes: null, cpuSecondsPerMinute: null, bootstrapError: null, final: null
        }
        nodes.push(record)
        const spawnRead = spawnTimeMs(record.pid, bootMs).then(at => { record.spawnedAt = at }, () => {})
        spawnReads.push(spawnRead)
        probes.push(spawnRead.then(async () => {
          Object.assign(record, await watchMilestones(member, {
            tableThreshold: params.tableThreshold,
            bootstrapPeerId: via?.peerId,
            intervalMs: params.pollMs,
            signal: probeSignal
          }))
        }))
        if (nodes.length % 5 === 0 || nodes.length === params.nodes) log(`${nodes.length}/${params.nodes} daemons ready`)
      }
    })
    await Promise.all(spawnReads)
    nodes.sort((a, b) => a.index - b.index)
    for (const node of nodes) node.readyAt = readyAt.get(node.index) ?? null
    for (const node of nodes) {
      node.swarmAtSpawn = node.spawnedAt == null ? null : nodes.filter(n => n.readyAt != null && n.readyAt < node.spawnedAt!).length
    }
    const startBackground = backgroundCores(beforeStart, await cpuSnapshot(nodes.map(n => n.pid)))

    log(`all up; waiting up to ${params.milestoneTimeoutSeconds} s for the milestones`)
    const timer = setTimeout(() => { probeStop.abort() }, params.milestoneTimeoutSeconds * 1000)
    await Promise.all(probes)
    clearTimeout(timer)
    signal.throwIfAborted()
    const missing = nodes.filter(n => n.tableFullAt == null || n.firstLookupAt == null).length
    log(`milestones done${missing > 0 ? ` (${missing} nodes missed one)` : ''}; settling ${params.settleSeconds} s without polling`)
    await sleep(params.settleSeconds * 1000, undefined, { signal })

    log(`measuring idle CPU over ${params.idleSeconds} s`)
    const idle = await measureIdle(nodes, params.idleSeconds, signal)
    await Promise.all(nodes.map(async node => {
      node.bootstrapError = bootstrapErrors.get(node.index) ?? null
      const status = await testnet.members[node.index].child!.api.get<NodeStatus>('/status', { signal, timeoutMs: 10_000 }).catch(() => undefined)
      if (status != null) node.final = { known: status.peers.known, connected: status.peers.connected, routingTableSize: status.routingTableSize }
    }))

    const swarm = testnet.members.filter(m => m.child?.isRunning === true)
    log(`joining up to ${joiners.joins} fresh daemons, one at a time, into the swarm of ${swarm.length}`)
    const joins = await measureJoiners(testnet, swarm, joiners, joinedAt, signal, log)
    loadAverage.end = loadavg().map(v => round(v, 2))

    const spawnedFirst = Math.min(...nodes.map(n => n.spawnedAt ?? Infinity))
    const readyLast = Math.max(...nodes.map(n => n.readyAt ?? -Infinity))
    const results = buildResults(nodes, params, {
      swarmStartMs: readyLast - spawnedFirst,
      idleWindowSeconds: idle.seconds,
      totalSeconds: (Date.now() - startedAt) / 1000,
      backgroundCores: { beforeStart: backgroundBefore, startPhase: startBackground, idleWindow: idle.backgroundCores },
      failedStarts
    })
    const report = { benchmark: 'join', date: new Date().toISOString(), machine: machineInfo(), loadAverage, nodes: params.nodes, results, joins }
    process.stdout.write(JSON.stringify(report) + '\n')
    if (docs) {
      await writeSection('join', renderMarkdown(report))
      await saveResults('join', report)
      log(`updated the "## join" section of ${BENCHMARKS_DOC}`)
    }
  } finally {
    probeStop.abort()
    await Promise.allSettled(probes)
    await grower.settle()
    log('stopping the swarm')
    await testnet.stop()
  }
}

/** CPU per node over an untouched window, then RSS; also how busy everything else kept the machine */
async function measureIdle (nodes: NodeRecord[], seconds: number, signal: AbortSignal): Promise<{ seconds: number, backgroundCores: number }> {
  const pids = nodes.map(n => n.pid)
  const machineBefore = await cpuSnapshot(pids)
  const before = await Promise.all(nodes.map(async n => readStat(n.pid).catch(() => undefined)))
  const start = performance.now()
  await sleep(seconds * 1000, undefined, { signal })
  const after = await Promise.all(nodes.map(async n => readStat(n.pid).catch(() => undefined)))
  const window = (performance.now() - start) / 1000
  const machineAfter = await cpuSnapshot(pids)
  const rss = await Promise.all(nodes.map(async n => readRss(n.pid).catch(() => null)))
  nodes.forEach((node, i) => {
    const a = before[i]
    const b = after[i]
    node.rssBytes = rss[i]
    node.cpuSecondsPerMinute = a == null || b == null ? null : (b.cpuTicks - a.cpuTicks) / clockTicks() / window * 60
  })
  return { seconds: window, backgroundCores: backgroundCores(machineBefore, machineAfter) }
}
