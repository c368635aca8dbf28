/**
 * A get's result is the user's; the DHT announcement of what it fetched is the swarm's, and it
 * can wait. A provider walk costs the node hundreds of ms of CPU in a swarm, and a get that ran
 * beside one (the user's next get, often of the same content) took 10–100× longer (bench lookup,
 * docs/benchmarks.md). So announcements of fetched content start once no get has run, and no
 * block was sent to a peer, for ANNOUNCE_QUIET_MS, and never later than ANNOUNCE_MAX_DEFER_MS
 * after they were asked for.
 */
export const ANNOUNCE_QUIET_MS = 2_000
export const ANNOUNCE_MAX_DEFER_MS = 30_000

export interface QuietAnnouncerInit {
  quietMs?: number
  maxDeferMs?: number
  /**
   * When other foreground work last ran (Date.now()), e.g. our server sending a block: a node
   * serving a flash crowd announced right after its own get and spent the crowd's CPU on the walk
   */
  lastBusyAt?: () => number
}

export class QuietAnnouncer<K> {
  private readonly announce: (key: K) => void
  private readonly quietMs: number
  private readonly maxDeferMs: number
  private readonly lastBusyAt: () => number
  /** key → when it was first asked for; a Map iterates in insertion order, so the first is the oldest */
  private readonly pending = new Map<K, number>()
  private active = 0
  private lastActivity = 0
  private timer?: ReturnType<typeof setTimeout>
  private stopped = false

  constructor (announce: (key: K) => void, init: QuietAnnouncerInit = {}) {
    this.announce = announce
    this.quietMs = init.quietMs ?? ANNOUNCE_QUIET_MS
    this.maxDeferMs = init.maxDeferMs ?? ANNOUNCE_MAX_DEFER_MS
    this.lastBusyAt = init.lastBusyAt ?? (() => 0)
  }

  /** Announce `key` once the foreground is quiet */
  schedule (key: K): void {
    if (this.stopped) return
    if (!this.pending.has(key)) this.pending.set(key, Date.now())
    this.lastActivity = Date.now()
    this.arm()
  }

  /** A foreground operation (a get) started: returns the function that ends it */
  busy (): () => void {
    this.active++
    this.lastActivity = Date.now()
    let ended = false
    return () => {
      if (ended) return
      ended = true
      this.active--
      this.lastActivity = Date.now()
      this.arm()
    }
  }

  /** Announcements still waiting (tests, status) */
  get waiting (): number { return this.pending.size }

  start (): void {
    this.stopped = false
  }

  /** Drops what waits: a stopping node announces nothing more */
  stop (): void {
    this.stopped = true
    this.pending.clear()
    if (this.timer != null) clearTimeout(this.timer)
    this.timer = undefined
  }

  private arm (): void {
    if (this.stopped || this.pending.size === 0) return
    if (this.timer != null) clearTimeout(this.timer)
    const now = Date.now()
    const oldest = this.pending.values().next().value as number
    // while a get runs only the max deadline can fire; its end re-arms the quiet one
    const dueQuiet = this.active > 0 ? Infinity : this.quietSince() + this.quietMs
    const dueMax = oldest + this.maxDeferMs
    this.timer = setTimeout(() => { this.fire() }, Math.max(0, Math.min(dueQuiet, dueMax) - now))
    this.timer.unref?.()
  }

  private quietSince (): number {
    return Math.max(this.lastActivity, this.lastBusyAt())
  }

  private fire (): void {
    this.timer = undefined
    const now = Date.now()
    const quiet = this.active === 0 && now - this.quietSince() >= this.quietMs
    // oldest first: the keys past the max deadline are a prefix. Collected before announcing, as
    // announce() may schedule again
    const due: K[] = []
    for (const [key, at] of this.pending) {
      if (!quiet && now - at < this.maxDeferMs) break
      due.push(key)
    }
    for (const key of due) {
      this.pending.delete(key)
      this.announce(key)
    }
    this.arm()
  }
}
