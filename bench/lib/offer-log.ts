export interface OfferCounts {
  /** offers answered "accepted" (which includes "already fetching" and "already held") */
  accepted: number
  /** declined offers by the decliner's reason ("no reply" when the offer got no answer) */
  declined: Record<string, number>
  /** replica copies completed, by reason (`floor`, `demand`) */
  stored: Record<string, number>
}

/**
 * Counts the daemons' replication log lines per CID: `offered CID to PEER (reason): accepted |
 * declined, WHY` and `now holding a REASON replica of CID`. Feed it every daemon stdout line.
 */
export class OfferLog {
  private readonly byCid = new Map<string, OfferCounts>()

  add (line: string): void {
    const offered = /offered (\w+) to \w+ \(\w+\): (accepted|declined, (.*))$/.exec(line)
    if (offered != null) {
      const entry = this.entry(offered[1])
      if (offered[2] === 'accepted') entry.accepted++
      else {
        const why = offered[3].trim() === '' ? '?' : offered[3].trim()
        entry.declined[why] = (entry.declined[why] ?? 0) + 1
      }
      return
    }
    const stored = /now holding a (\w+) replica of (\w+)/.exec(line)
    if (stored != null) {
      const entry = this.entry(stored[2])
      entry.stored[stored[1]] = (entry.stored[stored[1]] ?? 0) + 1
    }
  }

  of (cid: string): OfferCounts {
    const entry = this.byCid.get(cid)
    return { accepted: entry?.accepted ?? 0, declined: { ...entry?.declined }, stored: { ...entry?.stored } }
  }

  private entry (cid: string): OfferCounts {
    let entry = this.byCid.get(cid)
    if (entry == null) {
      entry = { accepted: 0, declined: {}, stored: {} }
      this.byCid.set(cid, entry)
    }
    return entry
  }
}

/** "4 accepted, 3 stored (floor); declined: 2× no reply" */
export function describeOffers (offers: OfferCounts): string {
  const declined = Object.entries(offers.declined)
  const stored = Object.entries(offers.stored)
  if (offers.accepted === 0 && declined.length === 0 && stored.length === 0) return 'none'
  return `${offers.accepted} accepted` +
    (stored.length > 0 ? `, ${stored.map(([why, n]) => `${n} ${why}`).join(' + ')} stored` : '') +
    (declined.length > 0 ? `; declined: ${declined.map(([why, n]) => `${n}× ${why.replace(/\|/g, '/')}`).join(', ')}` : '')
}
