/** How long a peer that sent a bad block or malformed frames is refused as a provider */
export const DEFAULT_PENALTY_MS = 10 * 60_000

/** Peers caught misbehaving; providers from here are skipped until their sentence ends */
export class PenaltyBox {
  private readonly until = new Map<string, { until: number, reason: string }>()
  private readonly durationMs: number

  constructor (durationMs = DEFAULT_PENALTY_MS) {
    this.durationMs = durationMs
  }

  penalise (peerId: string, reason: string): void {
    this.until.set(peerId, { until: Date.now() + this.durationMs, reason })
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
