import { MAX_TRACKED_ROOTS } from './constants.js'

/**
 * Demand (issue 4): a request rate per root CID that decays exponentially, so recent requests
 * count fully and old ones fade with a half-life. Rates are in requests per minute.
 */
export const DEFAULT_DEMAND_HALF_LIFE_MS = 60_000
/** Entries whose rate fell below this are forgotten, so memory tracks only live demand */
export const FORGET_BELOW_PER_MINUTE = 0.01

interface DemandEntry {
  /** decayed count at `at` */
  score: number
  at: number
  total: number
  lastRequest: number
}

export interface DemandSnapshot {
  cid: string
  /** requests per minute, decayed to now */
  ratePerMinute: number
  totalRequests: number
  lastRequest: string
}

export class DemandTracker {
  private readonly entries = new Map<string, DemandEntry>()
  private readonly halfLifeMs: number
  private readonly now: () => number
  private readonly maxEntries: number

  constructor (init: { halfLifeMs?: number, now?: () => number, maxEntries?: number } = {}) {
    this.halfLifeMs = init.halfLifeMs ?? DEFAULT_DEMAND_HALF_LIFE_MS
    this.now = init.now ?? Date.now
    // a new root past the bound replaces the longest-tracked one
    this.maxEntries = init.maxEntries ?? MAX_TRACKED_ROOTS
  }

  get size (): number {
    return this.entries.size
  }

  private decayed (entry: DemandEntry, at: number): number {
    return entry.score * Math.pow(0.5, (at - entry.at) / this.halfLifeMs)
  }

  record (cid: string, weight = 1): void {
    const at = this.now()
    const entry = this.entries.get(cid)
    if (entry == null) {
      if (this.entries.size >= this.maxEntries) this.prune()
      if (this.entries.size >= this.maxEntries) this.entries.delete(this.entries.keys().next().value!)
      this.entries.set(cid, { score: weight, at, total: weight, lastRequest: at })
      return
    }
    entry.score = this.decayed(entry, at) + weight
    entry.at = at
    entry.total += weight
    entry.lastRequest = at
  }

  /**
   * The decayed score S relates to a steady rate r (per ms) by S = r · halfLife / ln 2,
   * so the rate estimate is S · ln 2 / halfLife.
   */
  ratePerMinute (cid: string): number {
    const entry = this.entries.get(cid)
    if (entry == null) return 0
    return this.decayed(entry, this.now()) * Math.LN2 / this.halfLifeMs * 60_000
  }

  snapshot (cid: string): DemandSnapshot | undefined {
    const entry = this.entries.get(cid)
    if (entry == null) return undefined
    return { cid, ratePerMinute: this.ratePerMinute(cid), totalRequests: entry.total, lastRequest: new Date(entry.lastRequest).toISOString() }
  }

  /** Forgets the CIDs whose demand has faded away */
  prune (): void {
    for (const cid of [...this.entries.keys()]) {
      if (this.ratePerMinute(cid) < FORGET_BELOW_PER_MINUTE) this.entries.delete(cid)
    }
  }

  /** All tracked CIDs, hottest first; drops the ones whose demand has faded away */
  list (): DemandSnapshot[] {
    this.prune()
    return [...this.entries.keys()].map(cid => this.snapshot(cid)!).sort((a, b) => b.ratePerMinute - a.ratePerMinute)
  }
}
