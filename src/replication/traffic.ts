import { LRUCache } from 'lru-cache'
import { CHECKER_WINDOW_MS, MAX_TRACKED_PAIRS, REOFFER_AFTER_MS } from './constants.js'

// lru-cache rather than hashlru: a bound plus a per-entry TTL and a size the state test reads
type PairWindow = LRUCache<string, number>

function pairKey (root: string, peer: string): string {
  return `${root}/${peer}`
}

/**
 * Traffic replication itself causes, remembered for a while: peers we offered a root to (they
 * fetch it next) and peers that checked our copy (they fetch one probe block). Neither is demand:
 * counted, one recruit would make every node it asks hot, and those would recruit in turn.
 */
export class ReplicationTraffic {
  private readonly offered: PairWindow
  private readonly checkers: PairWindow
  private readonly fetchWindowMs: number

  constructor (init: { fetchTimeoutMs: number, maxPairs?: number }) {
    this.fetchWindowMs = init.fetchTimeoutMs
    const max = init.maxPairs ?? MAX_TRACKED_PAIRS
    this.offered = new LRUCache({ max, ttl: Math.max(init.fetchTimeoutMs, REOFFER_AFTER_MS) })
    this.checkers = new LRUCache({ max, ttl: CHECKER_WINDOW_MS })
  }

  offeredTo (root: string, peer: string): void {
    this.offered.set(pairKey(root, peer), Date.now())
  }

  /** Not offered this root in the last REOFFER_AFTER_MS */
  mayOffer (root: string, peer: string): boolean {
    return Date.now() - (this.offered.get(pairKey(root, peer)) ?? 0) > REOFFER_AFTER_MS
  }

  checkedBy (root: string, peer: string): void {
    this.checkers.set(pairKey(root, peer), Date.now())
  }

  isReplicationTraffic (root: string, peer: string): boolean {
    if (this.checkers.has(pairKey(root, peer))) return true
    return Date.now() - (this.offered.get(pairKey(root, peer)) ?? 0) < this.fetchWindowMs
  }

  prune (): void {
    this.offered.purgeStale()
    this.checkers.purgeStale()
  }

  clear (): void {
    this.offered.clear()
    this.checkers.clear()
  }

  sizes (): { offered: number, checkers: number } {
    return { offered: this.offered.size, checkers: this.checkers.size }
  }
}
