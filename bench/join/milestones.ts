import { setTimeout as sleep } from 'node:timers/promises'
import type { TestnetMember } from '../../src/testnet/testnet.js'
import type { NodeStatus, PeerSummary } from '../../src/node/node.js'

export interface MilestoneOptions {
  /** Routing-table size that counts as "full enough" */
  tableThreshold: number
  /** The one peer this node was given to join through; absent for the first node */
  bootstrapPeerId?: string
  intervalMs: number
  signal: AbortSignal
}

export interface Milestones {
  /** Wall-clock ms when /status first showed the routing table at the threshold */
  tableFullAt: number | null
  /** Wall-clock ms when /peers first listed a peer learned from a DHT response */
  firstLookupAt: number | null
}

/** A request that takes longer than this is a stalled daemon, not a slow answer */
const REQUEST_TIMEOUT_MS = 5_000

/**
 * Polls one daemon until both join milestones are seen (or the signal ends the wait). Each
 * endpoint stops being polled once its milestone is reached, to disturb the swarm no more
 * than needed. Times are taken when the answer arrives, so they are upper bounds by at most
 * one interval plus the request time.
 */
export async function watchMilestones (member: TestnetMember, options: MilestoneOptions): Promise<Milestones> {
  const result: Milestones = { tableFullAt: null, firstLookupAt: null }
  const api = member.child!.api
  const get = async <T>(path: string): Promise<T | undefined> => {
    try {
      return await api.get<T>(path, { signal: options.signal, timeoutMs: REQUEST_TIMEOUT_MS })
    } catch {
      return undefined
    }
  }
  while (!options.signal.aborted && (result.tableFullAt == null || result.firstLookupAt == null)) {
    const [status, peers] = await Promise.all([
      result.tableFullAt == null ? get<NodeStatus>('/status') : undefined,
      result.firstLookupAt == null ? get<PeerSummary[]>('/peers') : undefined
    ])
    const now = Date.now()
    if (status != null && status.routingTableSize >= options.tableThreshold) result.tableFullAt = now
    if (peers?.some(peer => learnedByLookup(peer, options.bootstrapPeerId)) === true) result.firstLookupAt = now
    await sleep(options.intervalMs, undefined, { signal: options.signal }).catch(() => {})
  }
  return result
}

/**
 * A peer named in a DHT response (source `discovery`; mDNS is off in bench swarms) that is not the bootstrap peer. Peers that
 * connected to us first are recorded as `identify` and do not count: they found us, we did
 * not look them up.
 */
export function learnedByLookup (peer: PeerSummary, bootstrapPeerId: string | undefined): boolean {
  return peer.source === 'discovery' && peer.peerId !== bootstrapPeerId
}
