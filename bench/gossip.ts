import { parseArgs } from 'node:util'
import { setMaxListeners } from 'node:events'
import { Testnet } from '../src/testnet/testnet.js'
import type { KizunaNode } from '../src/node/node.js'
import { DEFAULT_CONFIG, type KizunaConfig } from '../src/node/config.js'
import { machineInfo, describeMachine } from './lib/machine.js'
import { summarize, round, type Summary } from './lib/stats.js'
import { writeSection } from './lib/docs.js'
import type { BenchmarkContext } from './index.js'

const TOPIC = 'bench'
const GOSSIP_NAT: KizunaConfig['nat'] = {
  ...DEFAULT_CONFIG.nat,
  quic: false,
  upnp: false,
  autonat: false,
  holePunching: false,
  relayReservations: 0,
  relay: { ...DEFAULT_CONFIG.nat.relay, enabled: false }
}

interface PhaseResult {
  nodes: number
  messages: number
  /** per message: ms from publish until this share of the other live subscribers had it */
  p50Ms: Summary
  p99Ms: Summary
  p100Ms: Summary
  /** messages that reached every live subscriber */
  complete: number
  /** copies of a message a node received, duplicates included: per node, averaged over the phase's messages */
  copiesPerNode: Summary
}

function quantileDelay (delays: number[], share: number, expected: number): number | null {
  const needed = Math.ceil(expected * share)
  if (delays.length < needed || needed === 0) return null
  return [...delays].sort((a, b) => a - b)[needed - 1]
}

/** Publishes `count` messages from random live nodes and measures how they spread */
async function phase (name: string, nodes: KizunaNode[], count: number, intervalMs: number, log: (t: string) => void, signal: AbortSignal): Promise<PhaseResult> {
  const arrivals = new Map<string, number[]>()
  const publishedAt = new Map<string, { at: number, by: string }>()
  const controller = new AbortController()
  const sub = AbortSignal.any([signal, controller.signal])
  setMaxListeners(Infinity, sub)
  for (const node of nodes) {
    void (async () => {
      for await (const m of node.subscribe(TOPIC, { signal: sub })) {
        if (!m.text.startsWith(`${name}:`)) continue
        const list = arrivals.get(m.text) ?? []
        list.push(Date.now() - (publishedAt.get(m.text)?.at ?? Date.now()))
        arrivals.set(m.text, list)
      }
    })().catch(() => {})
  }
  log(`${name}: waiting for every node to have mesh peers`)
  const meshDeadline = Date.now() + 60_000
  while (!nodes.every(n => n.topicPeers(TOPIC).length > 0) && Date.now() < meshDeadline) await new Promise(resolve => setTimeout(resolve, 250))
  // two heartbeats so meshes grow towards D
  await new Promise(resolve => setTimeout(resolve, 2500))
  // every copy that reaches a node, duplicates included, counted by the node's topic service
  const copiesBefore = nodes.map(n => n.topicCopiesReceived(TOPIC))
  log(`${name}: publishing ${count} messages`)
  for (let i = 0; i < count && !signal.aborted; i++) {
    const publisher = nodes[Math.floor(Math.random() * nodes.length)]
    const text = `${name}:${i}`
    publishedAt.set(text, { at: Date.now(), by: publisher.peerId.toString() })
    await publisher.publish(TOPIC, text).catch(err => { log(`publish ${i} failed: ${(err as Error).message}`) })
    await new Promise(resolve => setTimeout(resolve, intervalMs))
  }
  const expected = nodes.length - 1
  const deadline = Date.now() + 30_000
  while (Date.now() < deadline && [...publishedAt.keys()].some(t => (arrivals.get(t)?.length ?? 0) < expected)) await new Promise(resolve => setTimeout(resolve, 250))
  // read before the subscriptions end: a topic's count starts again with its next subscription
  const copiesAfter = nodes.map(n => n.topicCopiesReceived(TOPIC))
  controller.abort()
  const texts = [...publishedAt.keys()]
  const delays = texts.map(t => arrivals.get(t) ?? [])
  // other phases' stragglers may add a copy or two: the counters are per topic
  const copyCounts = texts.length === 0 ? [] : nodes.map((_, i) => (copiesAfter[i] - copiesBefore[i]) / texts.length)
  return {
    nodes: nodes.length,
    messages: texts.length,
    p50Ms: summarize(delays.map(d => quantileDelay(d, 0.5, expected))),
    p99Ms: summarize(delays.map(d => quantileDelay(d, 0.99, expected))),
    p100Ms: summarize(delays.map(d => quantileDelay(d, 1, expected))),
    complete: delays.filter(d => d.length >= expected).length,
    copiesPerNode: summarize(copyCounts)
  }
}

const fmt = (s: Summary): string => s.n === 0 ? '–' : `${round(s.median ?? 0)} / ${round(s.p90 ?? 0)}`

/**
 * Gossip benchmark: N in-process nodes (one Node.js process, real TCP on 127.0.0.1), all
 * subscribed to one topic; M messages from random publishers, then the same after 20% of the
 * nodes were stopped just before.
 */
export async function run (args: string[], { signal, log }: BenchmarkContext): Promise<void> {
  const { values } = parseArgs({ args, options: { nodes: { type: 'string', default: '50' }, messages: { type: 'string', default: '100' }, 'interval-ms': { type: 'string', default: '50' }, kill: { type: 'string', default: '0.2' }, 'no-docs': { type: 'boolean', default: false } } })
  const size = Number(values.nodes)
  const count = Number(values.messages)
  const intervalMs = Number(values['interval-ms'])
  log(`starting ${size} in-process nodes`)
  // what gossip does not use is off, so 50 nodes fit in one process on 2 cores: NAT traversal
  // (QUIC, AutoNAT, relay, hole punching) and replication rounds
  const testnet = await Testnet.start({ size, mode: 'in-process', bootstrap: 'random', config: { replication: false, nat: GOSSIP_NAT } })
  try {
    const nodes = testnet.members.map(m => m.node!)
    await Promise.all(nodes.map(async n => { await n.joined() }))
    const full = await phase('full', nodes, count, intervalMs, log, signal)
    log(`full: 50% ${fmt(full.p50Ms)}, 99% ${fmt(full.p99Ms)}, 100% ${fmt(full.p100Ms)} ms; complete ${full.complete}/${full.messages}`)
    const victims = [...testnet.members].sort(() => Math.random() - 0.5).slice(0, Math.round(size * Number(values.kill)))
    await Promise.all(victims.map(async m => { await testnet.stopMember(m) }))
    const survivors = testnet.members.filter(m => !victims.includes(m)).map(m => m.node!)
    const churned = await phase('killed', survivors, count, intervalMs, log, signal)
    log(`after stopping ${victims.length}: 50% ${fmt(churned.p50Ms)}, 99% ${fmt(churned.p99Ms)}, 100% ${fmt(churned.p100Ms)} ms; complete ${churned.complete}/${churned.messages}`)
    const machine = machineInfo()
    const result = { benchmark: 'gossip', date: new Date().toISOString(), machine, mode: 'in-process', params: { nodes: size, messages: count, intervalMs }, full, afterKill: { stopped: victims.length, ...churned } }
    process.stdout.write(JSON.stringify(result, null, 2) + '\n')
    if (values['no-docs'] !== true) {
      const row = (label: string, r: PhaseResult): string => `| ${label} | ${r.nodes} | ${fmt(r.p50Ms)} | ${fmt(r.p99Ms)} | ${fmt(r.p100Ms)} | ${r.complete}/${r.messages} | ${fmt(r.copiesPerNode)} |`
      await writeSection('gossip', `${result.date.slice(0, 16).replace('T', ' ')} UTC, ${describeMachine(machine)}. ${size} nodes **in one process** (real TCP, Noise, Yamux on 127.0.0.1; NAT traversal and replication off), all subscribed to one topic; ${count} messages from random publishers, one every ${intervalMs} ms. Times are ms from publish until that share of the other live subscribers had the message, median / p90 over messages; copies are per node per message (median / p90 over nodes), duplicates included, counted by each node's topic service (\`topicCopiesReceived\`).

| run | live nodes | 50% | 99% | 100% | reached all | copies per node |
|---|---|---|---|---|---|---|
${row('all up', full)}
${row(`${victims.length} stopped just before`, churned)}`)
    }
  } finally {
    await testnet.stop()
  }
}
