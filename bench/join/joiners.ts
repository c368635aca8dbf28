import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Testnet, TestnetMember } from '../../src/testnet/testnet.js'
import type { NodeStatus } from '../../src/node/node.js'
import { addFile, getFile, writeRandomFile } from '../lib/content.js'
import { bootTimeMs, spawnTimeMs } from '../lib/proc.js'
import { round, summarize, type Summary } from '../lib/stats.js'
import { timeoutSignal } from '../../src/util/timeout-signal.js'

export interface JoinerParams {
  /** Fresh daemons to join, one after another */
  joins: number
  /** Routing-table size that counts as joined */
  k: number
  /** One joiner is given up on this long after its spawn */
  joinTimeoutSeconds: number
  /** No new joiner is started after this long (the whole phase stays bounded) */
  budgetSeconds: number
  pollMs: number
  /** Size of the file each joiner fetches */
  getBytes: number
}

/** One fresh daemon: ms from its spawn to each milestone, null if not reached in time */
export interface JoinRecord {
  bootstrapIndex: number
  publisherIndex: number
  spawnToReadyMs: number | null
  spawnToFirstPeerMs: number | null
  spawnToTableMs: number | null
  spawnToGetMs: number | null
  getAttempts: number
  /** the last get error when no get succeeded */
  getError: string | null
  maxRoutingTable: number
}

export const JOINER_METRICS = {
  spawnToFirstPeerMs: 'spawn → first connected peer (ms)',
  spawnToTableMs: 'spawn → routing table ≥ k (ms)',
  spawnToGetMs: 'spawn → first 1 KiB get done (ms)',
  spawnToReadyMs: 'spawn → ready (ms)'
} as const
export type JoinerMetric = keyof typeof JOINER_METRICS

export interface JoinerResults {
  params: JoinerParams
  attempted: number
  failedStarts: string[]
  summary: Record<JoinerMetric, Summary>
  perJoin: JoinRecord[]
}

/** A get that finds no provider this fast is retried: the joiner may simply know no one yet */
const GET_ATTEMPT_TIMEOUT_MS = 10_000
const GET_RETRY_MS = 250

/**
 * Joins fresh daemons into a running swarm one at a time. Before each, a random member publishes
 * a new random file (so every get is a real lookup, never a cached copy); the joiner is spawned
 * bootstrapped from another random member, watched until it has a peer, a routing table of k and
 * the file, then stopped, so every joiner meets a swarm of the same size.
 */
export async function measureJoiners (testnet: Testnet, swarm: TestnetMember[], params: JoinerParams, lineAt: Map<number, number>, signal: AbortSignal, log: (text: string) => void): Promise<JoinerResults> {
  const dir = await mkdtemp(join(tmpdir(), 'kizuna-join-bench-'))
  const perJoin: JoinRecord[] = []
  const failedStarts: string[] = []
  const deadline = Date.now() + params.budgetSeconds * 1000
  let attempted = 0
  try {
    const bootMs = await bootTimeMs()
    for (let i = 0; i < params.joins && Date.now() < deadline; i++) {
      signal.throwIfAborted()
      attempted++
      const running = swarm.filter(m => m.child?.isRunning === true)
      const publisher = running[Math.floor(Math.random() * running.length)]
      const via = running[Math.floor(Math.random() * running.length)]
      const file = join(dir, `f${i}`)
      await writeRandomFile(file, params.getBytes)
      const { cid } = await addFile(publisher, file, { signal })
      let member: TestnetMember
      try {
        member = await testnet.add({ bootstrap: [via.addrs[0]] })
      } catch (err) {
        failedStarts.push((err as Error).message.split('\n')[0].slice(0, 200))
        continue
      }
      try {
        const spawnedAt = await spawnTimeMs(member.child!.pid, bootMs)
        const record = await watchJoiner(member, cid, spawnedAt, params, signal)
        record.bootstrapIndex = via.index
        record.publisherIndex = publisher.index
        // the daemon's own "joined via ..." line can come before its API is up
        const joinedLine = lineAt.get(member.index)
        if (joinedLine != null) record.spawnToFirstPeerMs = Math.min(record.spawnToFirstPeerMs ?? Infinity, Math.max(0, Math.round(joinedLine - spawnedAt)))
        perJoin.push(record)
        log(`join ${i + 1}/${params.joins}: first peer ${record.spawnToFirstPeerMs} ms, table ≥ ${params.k} ${record.spawnToTableMs} ms, get ${record.spawnToGetMs} ms`)
      } finally {
        await testnet.stopMember(member)
      }
    }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
  const summary = Object.fromEntries((Object.keys(JOINER_METRICS) as JoinerMetric[])
    .map(metric => [metric, roundSummary(summarize(perJoin.map(r => r[metric])))])) as Record<JoinerMetric, Summary>
  return { params, attempted, failedStarts, summary, perJoin }
}

/** Polls /status and retries the get until every milestone is in or the join times out */
async function watchJoiner (member: TestnetMember, cid: string, spawnedAt: number, params: JoinerParams, outer: AbortSignal): Promise<JoinRecord> {
  const since = (): number => Math.max(0, Math.round(Date.now() - spawnedAt))
  const record: JoinRecord = {
    bootstrapIndex: -1, publisherIndex: -1, spawnToReadyMs: since(), spawnToFirstPeerMs: null,
    spawnToTableMs: null, spawnToGetMs: null, getAttempts: 0, getError: null, maxRoutingTable: 0
  }
  const signal = AbortSignal.any([outer, timeoutSignal(Math.max(1, spawnedAt + params.joinTimeoutSeconds * 1000 - Date.now()))])
  const api = member.child!.api
  const poll = async (): Promise<void> => {
    while (!signal.aborted && (record.spawnToFirstPeerMs == null || record.spawnToTableMs == null)) {
      const status = await api.get<NodeStatus>('/status', { signal, timeoutMs: 5_000 }).catch(() => undefined)
      if (status != null) {
        record.maxRoutingTable = Math.max(record.maxRoutingTable, status.routingTableSize)
        if (record.spawnToFirstPeerMs == null && status.peers.connected > 0) record.spawnToFirstPeerMs = since()
        if (record.spawnToTableMs == null && status.routingTableSize >= params.k) record.spawnToTableMs = since()
      }
      await sleep(params.pollMs, undefined, { signal }).catch(() => {})
    }
  }
  const fetch = async (): Promise<void> => {
    while (!signal.aborted && record.spawnToGetMs == null) {
      record.getAttempts++
      try {
        const done = await getFile(member, cid, { timeoutMs: GET_ATTEMPT_TIMEOUT_MS, signal })
        if (done.size !== params.getBytes) throw new Error(`got ${done.size} bytes, expected ${params.getBytes}`)
        record.spawnToGetMs = since()
        record.getError = null
      } catch (err) {
        record.getError = (err as Error).message.slice(0, 200)
        await sleep(GET_RETRY_MS, undefined, { signal }).catch(() => {})
      }
    }
  }
  await Promise.all([poll(), fetch()])
  return record
}

export function roundSummary (s: Summary): Summary {
  const r = (v: number | null): number | null => v == null ? null : round(v)
  return { n: s.n, median: r(s.median), p90: r(s.p90), max: r(s.max) }
}
