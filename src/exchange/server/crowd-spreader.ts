/**
 * Crowd spreading ("super-seeding"): while at least SPREAD_MIN_PEERS peers are fetching from
 * us, each block leaves us SPREAD_COPIES times; further requests for it are answered DONT_HAVE,
 * so the crowd fetches it from the peers that already got it and our upload stays bounded
 * however large the crowd is.
 *
 * Copies are counted when a request is admitted, not when the write finishes: a crowd asks for
 * the same block many times within one round trip, and counting late would admit them all.
 * A copy that never left (block missing, request cancelled, stream gone) is released again.
 *
 * Nobody waits forever: a peer refused one block for SPREAD_PATIENCE_MS (it could not find it
 * in the crowd) may get an extra copy. The wait counts from when the first copy actually left —
 * a loaded uplink may take many seconds to send what it admitted, and until then the crowd
 * cannot have the block — and extra copies come from a budget (a share of the blocks plus a
 * slow refill), so a crowd that is slow to find itself cannot turn them back into one upload
 * per downloader.
 */
export const SPREAD_MIN_PEERS = 3
export const SPREAD_COPIES = 2
export const SPREAD_PATIENCE_MS = 10_000
/** Extra copies per crowd: this share of the blocks it asked for ... */
export const SPREAD_EXTRA_SHARE = 0.25
/** ... plus one more every this long the crowd lasts */
export const SPREAD_EXTRA_REFILL_MS = 10_000
/** A peer counts as part of the crowd while its last request is this recent */
export const CROWD_WINDOW_MS = 3_000
/** A crowd of two that was bigger this recently is still a crowd; counts reset after it */
export const CROWD_LINGER_MS = 30_000
/** Per-block counts are forgotten this long after the block was first asked for */
export const SPREAD_MEMORY_MS = 10 * 60_000
/** Bookkeeping entries kept before old ones are pruned */
const MAX_ENTRIES = 65_536

export interface CrowdSpreaderInit {
  minPeers?: number
  copies?: number
  patienceMs?: number
  extraShare?: number
  extraRefillMs?: number
}

interface BlockUploads {
  count: number
  since: number
  firstSentAt?: number
}

export class CrowdSpreader {
  private readonly minPeers: number
  private readonly copies: number
  private readonly patienceMs: number
  private readonly extraShare: number
  private readonly extraRefillMs: number
  /** peer id → time of its last request */
  private readonly requesters = new Map<string, number>()
  /** block key → copies admitted (minus released) */
  private readonly uploads = new Map<string, BlockUploads>()
  /** `peer/block` → when we first refused that peer that block */
  private readonly refusedSince = new Map<string, number>()
  /** when the current crowd formed; undefined while there is none */
  private crowdSince: number | undefined
  private lastCrowdAt = 0
  private extrasThisCrowd = 0
  /** peer id → until when it fetches at our invitation (a replica we asked it to hold) */
  private readonly invited = new Map<string, number>()
  /** Copies sent because the asker had waited out the patience time */
  sentAfterWait = 0

  constructor (init: CrowdSpreaderInit = {}) {
    this.minPeers = init.minPeers ?? SPREAD_MIN_PEERS
    this.copies = init.copies ?? SPREAD_COPIES
    this.patienceMs = init.patienceMs ?? SPREAD_PATIENCE_MS
    this.extraShare = init.extraShare ?? SPREAD_EXTRA_SHARE
    this.extraRefillMs = init.extraRefillMs ?? SPREAD_EXTRA_REFILL_MS
  }

  /**
   * True when we should send `block` to `peer` now; the copy is then counted until
   * `release` says it never left. False means: refer the peer to the crowd.
   */
  admit (peer: string, block: string, now: number): boolean {
    this.requesters.set(peer, now)
    if (this.requesters.size > MAX_ENTRIES / 16) this.prune(this.requesters, now - CROWD_WINDOW_MS)
    const size = this.crowdSize(now)
    // a starved event loop can make a crowd look smaller for a moment: it lingers a while
    const lingering = this.crowdSince !== undefined && now - this.lastCrowdAt <= CROWD_LINGER_MS
    const inCrowd = size >= this.minPeers || (size >= 2 && lingering)
    if (inCrowd) {
      if (this.crowdSince === undefined) {
        this.crowdSince = now
        this.extrasThisCrowd = 0
      }
      this.lastCrowdAt = now
    } else if (this.crowdSince !== undefined && !lingering) {
      // the crowd dispersed: a new one starts from fresh counts
      this.crowdSince = undefined
      this.uploads.clear()
      this.refusedSince.clear()
    }
    const uploads = this.uploadsOf(block, now)
    if (inCrowd && uploads.count >= this.copies && !this.isInvited(peer, now)) {
      if (!this.waitedLongEnough(peer, block, uploads, now)) return false
      this.extrasThisCrowd++
      this.sentAfterWait++
    }
    uploads.count++
    return true
  }

  /**
   * A peer we asked to hold a replica is never referred to the crowd: the copy is the point,
   * and its fetch counts towards the block's copies so the crowd is referred to it instead.
   * So is a peer checking that we hold what we claim: a referral would read as a lie.
   */
  invite (peer: string, until: number): void {
    this.invited.set(peer, Math.max(until, this.invited.get(peer) ?? 0))
    if (this.invited.size > MAX_ENTRIES / 16) this.prune(this.invited, Date.now())
  }

  uninvite (peer: string): void {
    this.invited.delete(peer)
  }

  private isInvited (peer: string, now: number): boolean {
    return (this.invited.get(peer) ?? 0) > now
  }

  /** An admitted copy of `block` has been written to its peer */
  sent (block: string, now: number): void {
    const uploads = this.uploads.get(block)
    if (uploads !== undefined) uploads.firstSentAt ??= now
  }

  /** The admitted copy of `block` was not sent after all */
  release (block: string): void {
    const uploads = this.uploads.get(block)
    if (uploads !== undefined && uploads.count > 0) uploads.count--
  }

  crowdSize (now: number): number {
    let crowd = 0
    for (const at of this.requesters.values()) {
      if (now - at <= CROWD_WINDOW_MS) crowd++
    }
    return crowd
  }

  private waitedLongEnough (peer: string, block: string, uploads: BlockUploads, now: number): boolean {
    const waiter = `${peer}/${block}`
    const since = this.refusedSince.get(waiter)
    if (since === undefined) {
      if (this.refusedSince.size > MAX_ENTRIES) this.prune(this.refusedSince, now - this.patienceMs * 4)
      this.refusedSince.set(waiter, now)
      return false
    }
    if (uploads.firstSentAt === undefined || now - Math.max(since, uploads.firstSentAt) < this.patienceMs) return false
    const budget = this.uploads.size * this.extraShare + (now - (this.crowdSince ?? now)) / this.extraRefillMs
    if (this.extrasThisCrowd + 1 > budget) return false
    this.refusedSince.delete(waiter)
    return true
  }

  private uploadsOf (block: string, now: number): BlockUploads {
    let uploads = this.uploads.get(block)
    if (uploads === undefined || now - uploads.since > SPREAD_MEMORY_MS) {
      if (this.uploads.size > MAX_ENTRIES) {
        for (const [key, entry] of this.uploads) if (now - entry.since > SPREAD_MEMORY_MS) this.uploads.delete(key)
        if (this.uploads.size > MAX_ENTRIES) this.uploads.clear()
      }
      uploads = { count: 0, since: now }
      this.uploads.set(block, uploads)
    }
    return uploads
  }

  private prune (map: Map<string, number>, olderThan: number): void {
    for (const [key, at] of map) if (at < olderThan) map.delete(key)
  }
}
