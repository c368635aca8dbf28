import { LRUCache } from 'lru-cache'
import type { PeerId } from '@libp2p/interface'

/**
 * A recipient's mailbox holders found by one DHT walk serve the deposits that follow for this
 * long: a burst of messages to an offline friend cost one walk per message (about 2 s each).
 * Short, so that holders follow the swarm; a holder that refuses or fails drops the entry at once.
 */
export const MAILBOX_HOLDERS_TTL_MS = 30_000
/** Recipients whose holders are remembered at most (the least recently used goes first) */
export const MAILBOX_HOLDERS_CACHE_MAX = 256

/**
 * Bounded, expiring map recipient → the k peers that took its last deposit, plus the walk under
 * way for each recipient, so that concurrent deposits share one walk instead of starting one each.
 */
export class MailboxHoldersCache {
  private readonly entries: LRUCache<string, PeerId[]>
  private readonly walks = new Map<string, Promise<PeerId[]>>()

  /** `now`: the clock the TTL runs on (performance.now unless a test steps it) */
  constructor (ttlMs = MAILBOX_HOLDERS_TTL_MS, max = MAILBOX_HOLDERS_CACHE_MAX, now?: () => number) {
    this.entries = new LRUCache({
      max,
      ttl: ttlMs,
      // read the clock on every lookup instead of caching it for a millisecond behind a timer
      ttlResolution: 0,
      ...(now != null ? { perf: { now } } : {})
    })
  }

  get (recipient: string): PeerId[] | undefined {
    return this.entries.get(recipient)
  }

  set (recipient: string, holders: PeerId[]): void {
    this.entries.set(recipient, [...holders])
  }

  forget (recipient: string): void {
    this.entries.delete(recipient)
  }

  /** `walk()` unless a walk for `recipient` is already under way, whose result is shared */
  async shared (recipient: string, walk: () => Promise<PeerId[]>): Promise<PeerId[]> {
    const running = this.walks.get(recipient)
    if (running != null) return running
    const promise = walk().finally(() => { this.walks.delete(recipient) })
    this.walks.set(recipient, promise)
    return promise
  }

  clear (): void {
    this.entries.clear()
  }
}
