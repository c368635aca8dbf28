/**
 * Crowd spreading ("super-seeding"): while at least SPREAD_MIN_PEERS peers are fetching from
 * us, each block leaves us SPREAD_COPIES times (once); further requests for it are answered
 * REFER, so the crowd fetches it from the peer that already got it and our upload stays near
 * the file however large the crowd is. Two copies cost the publisher 2.1-2.6x the file in the lab.
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
 *
 * A crowd is only as good as its members' uploads, and peers that ask for everything and serve
 * nothing must not make one (issue 16: three such peer ids starved an honest downloader). So a
 * peer counts as a crowd member only while it is proven to serve: the server asks it back for a
 * block we sent it (see crowd-prober.ts), as soon as it had one, and it delivered. A peer is
 * referred for a block only when someone else that got it from us is a member: a block that went
 * only to peers that do not serve is sent again. And every peer gets its first
 * FIRST_BLOCKS_ALWAYS blocks (the root among them) from us whatever the crowd, so a download
 * always starts.
 */
export const SPREAD_MIN_PEERS = 3
export const SPREAD_COPIES = 1
export const SPREAD_PATIENCE_MS = 10_000
/** Extra copies per crowd: this share of the blocks it asked for (0.25 and a 10 s refill: 0.6x the file in a lab crowd) ... */
export const SPREAD_EXTRA_SHARE = 0.1
/** ... plus one more every this long the crowd lasts */
export const SPREAD_EXTRA_REFILL_MS = 20_000
/** A peer counts as part of the crowd while its last request is this recent */
export const CROWD_WINDOW_MS = 3_000
/** A crowd of two that was bigger this recently is still a crowd; counts reset after it */
export const CROWD_LINGER_MS = 30_000
/** Per-block counts are forgotten this long after the block was first asked for */
export const SPREAD_MEMORY_MS = 10 * 60_000
/** Blocks every peer gets from us before it can be referred to a crowd (the root): 8 let a 12-peer crowd of a 32 MiB file cost the publisher 3.8x the file, 2 still 2.6-3.0x */
export const FIRST_BLOCKS_ALWAYS = 1
/** A copy on its way to a peer counts as held by it (others are referred to it) this long after it was admitted */
export const ON_ITS_WAY_MS = 10_000
/** A peer that served a probe counts as a crowd member this long */
export const PROVEN_FOR_MS = 60_000
/** Blocks a peer must have had from us before it is probed: the first one, so it is proven soon */
export const PROBE_AFTER_BLOCKS = 1
/** A request may trigger a probe when the block asked back is this small (a DAG node); leaves only after a send */
export const PROBE_ON_REQUEST_MAX_BYTES = 64 * 1024
/** Recipients remembered per block: enough to find a member among them */
const MAX_RECIPIENTS = 8
/** A failed (or pending) probe of a peer is not repeated sooner than this: an early probe fails
 * when the block is still on its way, and a 10 s wait let the whole crowd download before it formed */
export const PROBE_RETRY_MS = 2_000
/** Bookkeeping entries kept before old ones are pruned */
const MAX_ENTRIES = 65_536

/** What a probe found out (see probeDone) */
export type ProbeOutcome = 'served' | 'lacks' | 'failed'

export interface CrowdSpreaderInit {
  minPeers?: number
  copies?: number
  patienceMs?: number
  extraShare?: number
  extraRefillMs?: number
  /** Blocks every peer gets before it may be referred (FIRST_BLOCKS_ALWAYS) */
  firstBlocks?: number
  /** false: every active requester counts as a crowd member, proven or not (tests of the counting) */
  provenOnly?: boolean
}

interface PeerRecord {
  /** copies admitted to this peer */
  admitted: number
  /** until when it counts as serving the crowd */
  provenUntil: number
  lastProbeAt: number
  probing: boolean
  /** the last block we sent it */
  lastSent?: string
  /** the one sent before it: what a probe asks back, as the last may still be on its way */
  sentBefore?: string
  /**
   * the smallest block we sent it (the root, usually): what a probe asks back, as any block proves
   * it serves; `askedSince`: whether it sent us a request since that block left. A request for a leaf means it has
   * stored the root (its fetch learns the leaves from it): over an exchange channel already open a
   * probe sent as soon as the root left overtook it and found nothing (channel-warmer.ts)
   */
  smallest?: { block: string, bytes: number, askedSince: boolean }
  /** when its last probe failed: a peer that does not serve is no holder, not even of a copy on its way */
  failedAt: number
}

interface BlockUploads {
  count: number
  since: number
  firstSentAt?: number
  /** peers the copies were admitted to (at most MAX_RECIPIENTS, members kept first) */
  to: string[]
  /** recipient → when its copy was admitted, while that copy is still on its way */
  onItsWay: Map<string, number>
}

export class CrowdSpreader {
  private readonly minPeers: number
  private readonly copies: number
  private readonly patienceMs: number
  private readonly extraShare: number
  private readonly extraRefillMs: number
  private readonly firstBlocks: number
  private readonly provenOnly: boolean
  /** peer id → what we know of its part in the crowd */
  private readonly peers = new Map<string, PeerRecord>()
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
  /** Probes answered with the block, and probes that failed (not served, refused, timed out) */
  probesServed = 0
  probesFailed = 0

  constructor (init: CrowdSpreaderInit = {}) {
    this.minPeers = init.minPeers ?? SPREAD_MIN_PEERS
    this.copies = init.copies ?? SPREAD_COPIES
    this.patienceMs = init.patienceMs ?? SPREAD_PATIENCE_MS
    this.extraShare = init.extraShare ?? SPREAD_EXTRA_SHARE
    this.extraRefillMs = init.extraRefillMs ?? SPREAD_EXTRA_REFILL_MS
    this.firstBlocks = init.firstBlocks ?? FIRST_BLOCKS_ALWAYS
    this.provenOnly = init.provenOnly ?? true
  }

  private peer (id: string, now: number): PeerRecord {
    let record = this.peers.get(id)
    if (record === undefined) {
      if (this.peers.size >= MAX_ENTRIES / 16) this.prunePeers(now)
      record = { admitted: 0, provenUntil: 0, lastProbeAt: Number.NEGATIVE_INFINITY, probing: false, failedAt: Number.NEGATIVE_INFINITY }
      this.peers.set(id, record)
    }
    return record
  }

  private prunePeers (now: number): void {
    for (const [id, record] of this.peers) {
      const last = this.requesters.get(id) ?? 0
      if (!record.probing && now - last > CROWD_LINGER_MS && record.provenUntil < now) this.peers.delete(id)
    }
    // still full: every one of them asked within the linger time; forget the oldest
    while (this.peers.size >= MAX_ENTRIES / 16) this.peers.delete(this.peers.keys().next().value as string)
  }

  /** `peer` served a block we asked it for: it counts as a crowd member for a while */
  proven (peer: string, now: number): void {
    this.peer(peer, now).provenUntil = now + PROVEN_FOR_MS
  }

  /**
   * The block to ask `peer` for to find out whether it serves (the last one we sent it), when a
   * probe is due; the caller then reports probeDone(). Undefined: no probe now. `maxBytes`: only
   * a block this small (a probe on every request, not only after a send: lab, leaf probes on
   * each request had the downloaders upload 1.65x what they delivered instead of 1.25x).
   */
  probeDue (peer: string, now: number, maxBytes = Number.POSITIVE_INFINITY): string | undefined {
    const record = this.peers.get(peer)
    if (record === undefined || record.probing || record.lastSent === undefined || record.admitted < PROBE_AFTER_BLOCKS) return undefined
    if (record.provenUntil - now > PROVEN_FOR_MS / 2 || now - record.lastProbeAt < PROBE_RETRY_MS) return undefined
    if (record.smallest?.askedSince === false) return undefined
    if ((record.smallest?.bytes ?? Number.POSITIVE_INFINITY) > maxBytes) return undefined
    record.probing = true
    record.lastProbeAt = now
    return record.smallest?.block ?? record.sentBefore ?? record.lastSent
  }

  /**
   * 'served': a member for PROVEN_FOR_MS. 'lacks': it does not have the block yet (it may still be
   * on its way), which proves nothing either way. 'failed': not served, refused, timed out.
   */
  probeDone (peer: string, outcome: ProbeOutcome, now: number): void {
    const record = this.peers.get(peer)
    if (record === undefined) return
    record.probing = false
    if (outcome === 'served') {
      record.provenUntil = now + PROVEN_FOR_MS
      this.probesServed++
    } else if (outcome === 'failed') {
      record.failedAt = now
      this.probesFailed++
    }
  }

  private isMember (peer: string, now: number): boolean {
    return !this.provenOnly || (this.peers.get(peer)?.provenUntil ?? 0) > now
  }

  /** Remembers `peer` got a copy; when the list is full it takes the place of one that is no member */
  private noteRecipient (uploads: BlockUploads, peer: string, now: number): void {
    if (uploads.to.includes(peer)) return
    if (uploads.to.length < MAX_RECIPIENTS) {
      uploads.to.push(peer)
      return
    }
    const stale = uploads.to.findIndex(p => !this.isMember(p, now))
    if (stale >= 0) uploads.to[stale] = peer
  }

  /**
   * Whether a peer other than `asker` that got `block` from us is a member it can be referred to,
   * or will be soon: a copy still on its way to a peer that never failed a probe counts for
   * ON_ITS_WAY_MS after it was admitted (on a thin uplink a copy takes seconds to leave, and
   * counting only copies that arrived sent each block to every asker meanwhile)
   */
  private memberHolds (uploads: BlockUploads, asker: string, now: number): boolean {
    return uploads.to.some(peer => peer !== asker && (this.isMember(peer, now) || this.comingTo(uploads, peer, now)))
  }

  private comingTo (uploads: BlockUploads, peer: string, now: number): boolean {
    const admittedAt = uploads.onItsWay.get(peer)
    if (admittedAt === undefined || now - admittedAt > ON_ITS_WAY_MS) return false
    return now - (this.peers.get(peer)?.failedAt ?? Number.NEGATIVE_INFINITY) > PROVEN_FOR_MS
  }

  /** `peer` asked for a block just now (it counts as fetching from us, admitted or waiting) */
  asked (peer: string, now: number): void {
    this.requesters.set(peer, now)
    const smallest = this.peers.get(peer)?.smallest
    if (smallest !== undefined) smallest.askedSince = true
    if (this.requesters.size > MAX_ENTRIES / 16) this.prune(this.requesters, now - CROWD_WINDOW_MS)
  }

  /**
   * True when we should send `block` to `peer` now; the copy is then counted until
   * `release` says it never left. False means: refer the peer to the crowd. `always`: a block
   * sent to every asker (a DAG node), counted all the same.
   */
  admit (peer: string, block: string, now: number, always = false): boolean {
    this.asked(peer, now)
    const record = this.peer(peer, now)
    // the asker plus the proven members it could be referred to
    const size = this.crowdSize(now) + (this.isMember(peer, now) ? 0 : 1)
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
    if (!always && inCrowd && uploads.count >= this.copies && !this.isInvited(peer, now) && record.admitted >= this.firstBlocks && this.memberHolds(uploads, peer, now)) {
      if (!this.waitedLongEnough(peer, block, uploads, now)) return false
      this.extrasThisCrowd++
      this.sentAfterWait++
    }
    uploads.count++
    this.noteRecipient(uploads, peer, now)
    if (uploads.onItsWay.size < MAX_RECIPIENTS) uploads.onItsWay.set(peer, now)
    record.admitted++
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

  /** An admitted copy of `block` (of `bytes`, when known) has been written to `peer` (when known) */
  sent (block: string, now: number, peer?: string, bytes?: number): void {
    const uploads = this.uploads.get(block)
    if (uploads !== undefined) uploads.firstSentAt ??= now
    if (peer !== undefined) {
      uploads?.onItsWay.delete(peer)
      const record = this.peers.get(peer)
      if (record !== undefined && record.lastSent !== block) {
        record.sentBefore = record.lastSent
        record.lastSent = block
      }
      // a probe of a 1 MiB leaf cost every served peer a block per probe (lab: a host's whole
      // upload beyond its share); the root proves the same for a few hundred bytes
      if (record !== undefined && bytes !== undefined && (record.smallest === undefined || bytes < record.smallest.bytes)) {
        record.smallest = { block, bytes, askedSince: false }
      }
    }
  }

  /** The admitted copy of `block` (to `peer`, when known) was not sent after all */
  release (block: string, peer?: string): void {
    const uploads = this.uploads.get(block)
    if (uploads !== undefined && uploads.count > 0) uploads.count--
    if (uploads !== undefined && peer !== undefined) {
      uploads.onItsWay.delete(peer)
      const i = uploads.to.indexOf(peer)
      if (i >= 0) uploads.to.splice(i, 1)
    }
    const record = peer === undefined ? undefined : this.peers.get(peer)
    if (record !== undefined && record.admitted > 0) record.admitted--
  }

  /** Peers that asked us for a block within CROWD_WINDOW_MS, members or not */
  fetchingPeers (now: number): number {
    let n = 0
    for (const at of this.requesters.values()) {
      if (now - at <= CROWD_WINDOW_MS) n++
    }
    return n
  }

  /** Peers asking now that count as members (proven to serve, unless provenOnly is off) */
  crowdSize (now: number): number {
    let crowd = 0
    for (const [peer, at] of this.requesters) {
      if (now - at <= CROWD_WINDOW_MS && this.isMember(peer, now)) crowd++
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
      uploads = { count: 0, since: now, to: [], onItsWay: new Map() }
      this.uploads.set(block, uploads)
    }
    return uploads
  }

  private prune (map: Map<string, number>, olderThan: number): void {
    for (const [key, at] of map) if (at < olderThan) map.delete(key)
  }
}
