/** How long a peer that sent a bad block or malformed frames is refused as a provider */
export const DEFAULT_PENALTY_MS = 10 * 60_000
/**
 * Bad blocks from one peer within STRIKE_WINDOW_MS before it is penalised for everything: one
 * is bit rot an honest peer cannot see coming (its own re-check on serving drops the block);
 * three in ten minutes is a peer that keeps sending bytes it never checked, or lies.
 */
export const DEFAULT_STRIKES_TO_PENALTY = 3
export const STRIKE_WINDOW_MS = 10 * 60_000
/** Peers remembered at once (penalised or with strikes); the oldest are forgotten past it */
export const MAX_PENALTY_ENTRIES = 4096

/** Peers caught misbehaving; providers from here are skipped until their sentence ends */
export class PenaltyBox {
  private readonly until = new Map<string, { until: number, reason: string }>()
  private readonly strikes = new Map<string, number[]>()
  private readonly durationMs: number
  private readonly strikesToPenalty: number

  constructor (durationMs = DEFAULT_PENALTY_MS, strikesToPenalty = DEFAULT_STRIKES_TO_PENALTY) {
    this.durationMs = durationMs
    this.strikesToPenalty = strikesToPenalty
  }

  /** Deliberate misbehaviour (malformed frames, a lie found out): penalised at once */
  penalise (peerId: string, reason: string): void {
    this.until.delete(peerId)
    this.until.set(peerId, { until: Date.now() + this.durationMs, reason })
    bound(this.until)
  }

  /**
   * An offence an honest peer may commit by accident (a block that rotted on its disk): counted,
   * and penalised only once it keeps happening. True when this strike penalised the peer.
   */
  strike (peerId: string, reason: string): boolean {
    const now = Date.now()
    const recent = (this.strikes.get(peerId) ?? []).filter(at => now - at < STRIKE_WINDOW_MS)
    recent.push(now)
    this.strikes.delete(peerId)
    if (recent.length >= this.strikesToPenalty) {
      this.penalise(peerId, reason)
      return true
    }
    this.strikes.set(peerId, recent)
    bound(this.strikes)
    return false
  }

  /** Recent strikes against a peer (not yet a penalty) */
  strikesOf (peerId: string): number {
    const now = Date.now()
    return (this.strikes.get(peerId) ?? []).filter(at => now - at < STRIKE_WINDOW_MS).length
  }

  isPenalised (peerId: string): boolean {
    const entry = this.until.get(peerId)
    if (entry == null) return false
    if (entry.until < Date.now()) {
      this.until.delete(peerId)
      return false
    }
    return true
  }

  list (): Array<{ peerId: string, reason: string, until: string }> {
    return [...this.until.entries()]
      .filter(([id]) => this.isPenalised(id))
      .map(([peerId, e]) => ({ peerId, reason: e.reason, until: new Date(e.until).toISOString() }))
  }
}

/** Maps keep insertion order: the first entries are the oldest */
function bound (map: Map<string, unknown>): void {
  while (map.size > MAX_PENALTY_ENTRIES) {
    const oldest = map.keys().next().value as string
    map.delete(oldest)
  }
}
