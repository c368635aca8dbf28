/**
 * Demand (issue 4): a request rate per root CID that decays exponentially, so recent requests
 * count fully and old ones fade with a half-life. Rates are in requests per minute.
 */
export const DEFAULT_DEMAND_HALF_LIFE_MS = 60_000
/** Entries whose rate fell below this are forgotten, so memory tracks only live demand */
export const FORGET_BELOW_PER_MINUTE = 0.01
/**
 * CIDs tracked at once. Anyone can make us record demand for any CID (a HAVE query for a random
 * root): past this bound faded entries are dropped, then the coldest, so memory stays bounded.
 */
export const MAX_DEMAND_ENTRIES = 4096

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

  constructor (init: { halfLifeMs?: number, now?: () => number } = {}) {
    this.halfLifeMs = init.halfLifeMs ?? DEFAULT_DEMAND_HALF_LIFE_MS
    this.now = init.now ?? Date.now
  }

  private decayed (entry: DemandEntry, at: number): number {
    return entry.score * Math.pow(0.5, (at - entry.at) / this.halfLifeMs)
  }

  record (cid: string, weight = 1): void {
    const at = this.now()
    const entry = this.entries.get(cid)
    if (entry == null) {
      if (this.entries.size >= MAX_DEMAND_ENTRIES) this.prune(at)
      this.entries.set(cid, { score: weight, at, total: weight, lastRequest: at })
      return
    }
    entry.score = this.decayed(entry, at) + weight
    entry.at = at
    entry.total += weight
    entry.lastRequest = at
  }

  /** Drops faded entries, then the coldest quarter if that was not enough */
  private prune (at: number): void {
    for (const [cid, entry] of this.entries) {
      if (this.decayed(entry, at) * Math.LN2 / this.halfLifeMs * 60_000 < FORGET_BELOW_PER_MINUTE) this.entries.delete(cid)
    }
    if (this.entries.size < MAX_DEMAND_ENTRIES) return
    const coldest = [...this.entries].sort((a, b) => this.decayed(a[1], at) - this.decayed(b[1], at))
    for (const [cid] of coldest.slice(0, Math.ceil(MAX_DEMAND_ENTRIES / 4))) this.entries.delete(cid)
  }

  /** CIDs tracked now (bounded by MAX_DEMAND_ENTRIES) */
  get size (): number {
    return this.entries.size
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

  /** All tracked CIDs, hottest first; drops the ones whose demand has faded away */
  list (): DemandSnapshot[] {
    const out: DemandSnapshot[] = []
    for (const cid of [...this.entries.keys()]) {
      const snapshot = this.snapshot(cid)!
      if (snapshot.ratePerMinute < FORGET_BELOW_PER_MINUTE) {
        this.entries.delete(cid)
        continue
      }
      out.push(snapshot)
    }
    return out.sort((a, b) => b.ratePerMinute - a.ratePerMinute)
  }
}
