import type { PeerId } from '@libp2p/interface'

/**
 * A recipient's mailbox holders found by one DHT walk serve the deposits that follow for this
 * long: a burst of messages to an offline friend cost one walk per message (about 2 s each).
 * Short, so that holders follow the swarm; a holder that refuses or fails drops the entry at once.
 */
export const MAILBOX_HOLDERS_TTL_MS = 30_000
/** Recipients whose holders are remembered at most (the oldest entry goes first) */
export const MAILBOX_HOLDERS_CACHE_MAX = 256

/**
 * Bounded, expiring map recipient → the k peers that took its last deposit, plus the walk under
 * way for each recipient, so that concurrent deposits share one walk instead of starting one each.
 */
export class MailboxHoldersCache {
  private readonly entries = new Map<string, { holders: PeerId[], until: number }>()
  private readonly walks = new Map<string, Promise<PeerId[]>>()

  constructor (private readonly ttlMs = MAILBOX_HOLDERS_TTL_MS, private readonly max = MAILBOX_HOLDERS_CACHE_MAX, private readonly now: () => number = Date.now) {}

  get (recipient: string): PeerId[] | undefined {
    const entry = this.entries.get(recipient)
    if (entry == null) return undefined
    if (entry.until <= this.now()) {
      this.entries.delete(recipient)
      return undefined
    }
    return entry.holders
  }

  set (recipient: string, holders: PeerId[]): void {
    this.entries.delete(recipient)
    if (this.entries.size >= this.max) this.entries.delete(this.entries.keys().next().value as string)
    this.entries.set(recipient, { holders: [...holders], until: this.now() + this.ttlMs })
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
