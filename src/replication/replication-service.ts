import { peerIdFromString } from '@libp2p/peer-id'
import { CID } from 'multiformats/cid'
import type { PeerId } from '@libp2p/interface'
import type { Datastore } from 'interface-datastore'
import type { KizunaLibp2p } from '../libp2p/types.js'
import type { PeerView } from '../peers/peer-view.js'
import type { ContentStore, ContentRecord } from '../content/index.js'
import { blockKey } from '../content/index.js'
import type { SharingService } from '../sharing/sharing-service.js'
import { DemandTracker } from './demand.js'
import { planEviction, type CacheCandidate } from './cache-policy.js'
import { choosePlacement, compareDistance, kadKey } from './placement.js'
import { findHolders, type Holder } from './holders.js'
import { handleReplicationStreams, request } from './protocol.js'
import { ReplicaMetaStore, type ReplicaMeta } from './replica-meta.js'
import type { HolderKind, OfferMessage, OfferReason, ReplicationMessage } from './codec.js'
import { REPLICATE_PROTOCOL } from './codec.js'
import { ReplicationEvents } from './events.js'

export interface ReplicationInit {
  /** bytes of cached (not pinned) content this node keeps for others */
  cacheBytes: number
  /** demand (requests per minute) above which a holder recruits more holders */
  hotRatePerMinute: number
  /** at most this many copies are added for demand */
  maxDemandReplicas: number
  /** ms between replication rounds */
  checkIntervalMs: number
  /** a cached copy nobody asked for in this long ages out */
  cacheIdleMs: number
  /** offers accepted from one peer per minute; more are declined */
  offersPerMinutePerPeer: number
  /** an accepted offer whose content cannot be fetched in this long is given up */
  fetchTimeoutMs: number
  /** replica fetches running at once */
  maxConcurrentFetches: number
  /** ms for the demand estimate to halve once requests stop */
  demandHalfLifeMs: number
}

export const DEFAULT_REPLICATION: ReplicationInit = {
  cacheBytes: 10 * 1024 * 1024 * 1024,
  hotRatePerMinute: 6,
  maxDemandReplicas: 8,
  checkIntervalMs: 10_000,
  cacheIdleMs: 10 * 60_000,
  offersPerMinutePerPeer: 30,
  fetchTimeoutMs: 5 * 60_000,
  maxConcurrentFetches: 2,
  demandHalfLifeMs: 60_000
}

/** After a recruitment round for a root, wait this many check intervals before the next */
const RECRUIT_COOLDOWN_ROUNDS = 2
/** A peer that was offered a root is not asked again for it for this long */
const REOFFER_AFTER_MS = 60_000
/**
 * A satisfied floor is re-counted only every this many rounds (holder counting costs a DHT
 * query and a probe per holder); an eviction or a new floor forces an immediate count.
 */
const FLOOR_RECHECK_ROUNDS = 5
/** Rounds between holder counts driven by demand alone (see checkRoot) */
const DEMAND_RECOUNT_ROUNDS = 3
/**
 * A cached copy this young (its record's addedAt) came from a download or an offer we took: it is
 * itself a replica the demand made, and so is every member of the crowd it was fetched with. Its
 * demand does not make it count holders for this long; the copies that were there before (the
 * publisher's pinned one above all) still do. In a 16-node flash crowd every downloader turned
 * hot as soon as it finished, and each one's count (a DHT walk plus a proof from every holder)
 * made replication on cost ~30 of the crowd's ~95 CPU-s while finding all 16 holders every time.
 */
export const FRESH_COPY_QUIET_MS = 60_000
/**
 * A peer that sent a holder query is checking our copy, not downloading it: the probe block it
 * fetches next must not count as demand or keep the copy warm, for this long.
 */
const CHECKER_WINDOW_MS = 30_000
/** A root whose offered fetch failed is declined for this long (no retry storm) */
const FAILED_OFFER_MEMORY_MS = 5 * 60_000

export interface ReplicationComponents {
  libp2p: KizunaLibp2p
  view: PeerView
  content: ContentStore
  sharing: SharingService
  datastore: Datastore
}

/**
 * Demand-driven replication (the headline feature): roots asked for often are pushed to more
 * peers, a replica floor is kept for content added with --replicas, cached copies age out
 * when demand fades, and the cache never grows past its quota.
 */
export class ReplicationService {
  readonly demand: DemandTracker
  readonly events = new ReplicationEvents()
  readonly meta: ReplicaMetaStore
  private readonly components: ReplicationComponents
  readonly init: ReplicationInit
  private timer?: ReturnType<typeof setTimeout>
  private controller?: AbortController
  private round?: Promise<void>
  private readonly blockToRoot = new Map<string, { root: string, rootBytes: number }>()
  private readonly lastRecruit = new Map<string, number>()
  private readonly offered = new Map<string, number>()
  private readonly failedOffers = new Map<string, number>()
  private readonly offerTokens = new Map<string, { tokens: number, at: number }>()
  private readonly fetching = new Map<string, number>()
  private readonly lastTouch = new Map<string, number>()
  private readonly holderCounts = new Map<string, number>()
  private readonly lastCount = new Map<string, number>()
  private forceCount = false
  private readonly checkers = new Map<string, number>()

  constructor (components: ReplicationComponents, init: Partial<ReplicationInit> = {}) {
    this.components = components
    this.init = { ...DEFAULT_REPLICATION, ...init }
    this.demand = new DemandTracker({ halfLifeMs: this.init.demandHalfLifeMs })
    this.meta = new ReplicaMetaStore(components.datastore)
  }

  async start (): Promise<void> {
    if (this.controller != null) return
    this.controller = new AbortController()
    await this.meta.load()
    for (const record of await this.components.content.list()) {
      await this.indexBlocks(record.cid)
    }
    const { sharing } = this.components
    sharing.server.addEventListener('block:served', (evt) => { this.onServed(evt.detail.peer.toString(), evt.detail.cid, evt.detail.bytes) })
    sharing.onHaveQuery = (root, from) => {
      if (!this.isReplicationTraffic(root.toString(), from.toString())) this.demand.record(root.toString())
    }
    sharing.onStored = (root) => { void this.indexBlocks(root).then(async () => { await this.enforceQuota() }).catch(() => {}) }
    await handleReplicationStreams(this.components.libp2p, async (message, from) => this.handle(message, from))
    this.schedule()
  }

  async stop (): Promise<void> {
    if (this.controller == null) return
    this.controller.abort()
    this.controller = undefined
    clearTimeout(this.timer)
    await this.round?.catch(() => {})
    await this.components.libp2p.unhandle(REPLICATE_PROTOCOL).catch(() => {})
  }

  private schedule (): void {
    const signal = this.controller?.signal
    if (signal == null) return
    this.timer = setTimeout(() => {
      this.round = this.runRound(signal).catch(() => {})
      void this.round.finally(() => { this.schedule() })
    }, this.init.checkIntervalMs)
    this.timer.unref?.()
  }

  /** Runs a round now (an evicted peer may have been a holder; `add --replicas` wants its floor) */
  async checkNow (): Promise<void> {
    const signal = this.controller?.signal
    if (signal == null) return
    await this.round?.catch(() => {})
    this.forceCount = true
    this.round = this.runRound(signal).catch(() => {}).finally(() => { this.forceCount = false })
    await this.round
  }

  async setFloor (root: CID, floor: number, role: ReplicaMeta['role'] = 'origin'): Promise<void> {
    await this.meta.set(root, { floor, role })
  }

  private async indexBlocks (root: CID): Promise<void> {
    const refs = await this.components.content.blockRefs(root)
    if (refs == null) return
    const rootBytes = refs.reduce((sum, ref) => sum + ref.size, 0)
    for (const ref of refs) {
      this.blockToRoot.set(blockKey(ref.cid), { root: root.toString(), rootBytes })
    }
  }

  /**
   * Holders checking each other and recruits fetching the copy we offered are not demand:
   * counted, one recruit would make every node it asks hot, and those would recruit in turn.
   */
  private isReplicationTraffic (root: string, peer: string): boolean {
    const now = Date.now()
    if ((this.checkers.get(`${root}/${peer}`) ?? 0) > now) return true
    return now - (this.offered.get(`${root}/${peer}`) ?? 0) < this.init.fetchTimeoutMs
  }

  /** Demand is counted in whole-file equivalents served, so a root split into many blocks is not over-counted */
  private onServed (peer: string, cid: CID, bytes: number): void {
    const owner = this.blockToRoot.get(blockKey(cid))
    if (owner == null) return
    if (this.isReplicationTraffic(owner.root, peer)) return
    this.demand.record(owner.root, bytes / Math.max(1, owner.rootBytes))
    const now = Date.now()
    if (now - (this.lastTouch.get(owner.root) ?? 0) > 5_000) {
      this.lastTouch.set(owner.root, now)
      void this.components.content.touch(CID.parse(owner.root)).catch(() => {})
    }
  }

  private async runRound (signal: AbortSignal): Promise<void> {
    const records = await this.components.content.list({ signal })
    for (const record of records) {
      if (signal.aborted) return
      await this.checkRoot(record, signal).catch(() => {})
    }
    await this.enforceQuota()
  }

  private async checkRoot (record: ContentRecord, signal: AbortSignal): Promise<void> {
    const key = record.cid.toString()
    const meta = this.meta.get(key)
    const rate = this.demand.ratePerMinute(key)
    const floor = meta?.floor ?? 0
    const hot = rate >= this.init.hotRatePerMinute
    const now = Date.now()
    const cooling = now - (this.lastRecruit.get(key) ?? 0) < this.init.checkIntervalMs * RECRUIT_COOLDOWN_ROUNDS
    const floorMet = (this.holderCounts.get(key) ?? 0) >= floor
    const countIsFresh = now - (this.lastCount.get(key) ?? 0) < this.init.checkIntervalMs * FLOOR_RECHECK_ROUNDS
    const floorNeedsCount = floor > 0 && (this.forceCount || !floorMet || !countIsFresh)
    const demandTarget = hot ? Math.min(this.init.maxDemandReplicas, 1 + Math.ceil(rate / this.init.hotRatePerMinute)) : 0
    // Counting asks every holder for a possession proof (a block read and hashed each). In a
    // flash crowd every holder is hot, and recounting every round had each of them prove to each
    // other every round: a demand recount waits DEMAND_RECOUNT_ROUNDS, and a fresh count that met
    // the demand is trusted for FLOOR_RECHECK_ROUNDS
    const demandMet = (this.holderCounts.get(key) ?? 0) >= demandTarget
    const demandCountIsStale = now - (this.lastCount.get(key) ?? 0) >= this.init.checkIntervalMs * DEMAND_RECOUNT_ROUNDS
    const freshCopy = record.kind === 'cached' && now - record.addedAt < FRESH_COPY_QUIET_MS
    const hotNeedsCount = hot && !freshCopy && (this.forceCount || !countIsFresh || (!demandMet && demandCountIsStale))

    if ((hotNeedsCount || floorNeedsCount) && !cooling) {
      this.lastCount.set(key, now)
      const holders = await findHolders(record.cid, this.components, { kind: record.kind, floor }, { signal })
      const counted = holders.filter(h => h.verified)
      this.holderCounts.set(key, counted.length)
      this.events.emit('replication:counted', { root: key, reason: floorNeedsCount ? 'floor' : 'demand', holders: holders.length, verified: counted.length })
      const knownFloor = Math.max(floor, ...holders.map(h => h.floor ?? 0))
      if (floor < knownFloor && meta != null) await this.meta.set(key, { ...meta, floor: knownFloor })
      const target = Math.max(demandTarget, knownFloor)
      if (counted.length < target) {
        const reason: OfferReason = counted.length < knownFloor ? 'floor' : 'demand'
        // One repairer per root: the verified holder closest to the CID, so holders do not all
        // recruit at once; chosen among those that know the floor (ourselves included), since a
        // copy that never heard of it (a plain download) never counts, so never repairs, and the
        // floor was left short for good whenever such a copy was the closest.
        const repairers = counted.filter(h => h.peerId === this.components.libp2p.peerId.toString() || (h.floor ?? 0) > 0)
        if (reason === 'demand' || await this.isRepairLeader(record.cid, repairers)) {
          this.lastRecruit.set(key, Date.now())
          await this.recruit(record, target - counted.length, reason, knownFloor, holders, signal)
        }
      }
    }

    if (record.kind === 'cached' && !hot) {
      await this.maybeAgeOut(record, meta, signal)
    }
  }

  private async isRepairLeader (root: CID, holders: Holder[]): Promise<boolean> {
    const target = await kadKey(root.multihash.bytes)
    const keyed = await Promise.all(holders.map(async h => ({ id: h.peerId, key: await kadKey(peerIdFromString(h.peerId).toMultihash().bytes) })))
    keyed.sort((a, b) => compareDistance(a.key, b.key, target))
    return keyed[0]?.id === this.components.libp2p.peerId.toString()
  }

  private async recruit (record: ContentRecord, count: number, reason: OfferReason, floor: number, holders: Holder[], signal: AbortSignal): Promise<number> {
    const key = record.cid.toString()
    const exclude = new Set(holders.map(h => h.peerId))
    const now = Date.now()
    const candidates = this.components.view.list()
      .filter(p => p.lastSeen != null && !exclude.has(p.peerId.toString()))
      .filter(p => now - (this.offered.get(`${key}/${p.peerId.toString()}`) ?? 0) > REOFFER_AFTER_MS)
      .map(p => ({ peerId: p.peerId.toString(), key: p.peerId.toMultihash().bytes }))
    const ordered = await choosePlacement(record.cid, candidates, Math.min(candidates.length, count * 3))
    const hints = this.components.libp2p.getMultiaddrs().map(ma => ma.toString()).slice(0, 4)
    const offer: OfferMessage = { type: 'offer', root: record.cid, size: record.blockBytes, reason, floor, hints }
    let accepted = 0
    for (const peer of ordered) {
      if (accepted >= count || signal.aborted) break
      this.offered.set(`${key}/${peer}`, Date.now())
      const peerId = peerIdFromString(peer)
      // a floor copy is invited (never referred to a crowd) before the offer goes out, as the
      // recruit starts fetching before we read its reply; a demand recruit joins the crowd
      if (reason === 'floor') this.components.sharing.invite(peerId, this.init.fetchTimeoutMs)
      const reply = await request(this.components.libp2p, peerId, offer, { signal }).catch(() => undefined)
      const ok = reply?.type === 'offer-reply' && reply.accepted
      // one that was fetching anyway, or already holds it, is an ordinary member of any crowd
      if (!ok || reply?.reason !== undefined) this.components.sharing.uninvite(peerId)
      this.events.emit('replication:offer', { root: key, peerId: peer, reason, accepted: ok, why: reply?.type === 'offer-reply' ? reply.reason : 'no reply' })
      if (ok) accepted++
    }
    return accepted
  }

  private async maybeAgeOut (record: ContentRecord, meta: ReplicaMeta | undefined, signal: AbortSignal): Promise<void> {
    const key = record.cid.toString()
    if (this.fetching.has(key)) return
    const idleFor = Date.now() - Math.max(record.lastAccess, record.addedAt)
    if (idleFor < this.init.cacheIdleMs) return
    if ((meta?.floor ?? 0) > 0) {
      // a floor copy may only go while more than the floor remain
      const holders = await findHolders(record.cid, this.components, { kind: record.kind, floor: meta?.floor }, { signal })
      if (holders.filter(h => h.verified).length <= (meta?.floor ?? 0)) return
    }
    await this.drop(record, 'aged out')
  }

  private async drop (record: ContentRecord, why: string): Promise<void> {
    const key = record.cid.toString()
    await this.components.content.remove(record.cid).catch(() => {})
    await this.meta.delete(key).catch(() => {})
    await this.components.libp2p.services.dht.cancelReprovide(record.cid).catch(() => {})
    this.events.emit('replication:dropped', { root: key, why, bytes: record.blockBytes })
  }

  /** Cached roots we may evict: not pinned, not a floor copy, not being fetched */
  private async evictionCandidates (): Promise<{ candidates: CacheCandidate[], records: Map<string, ContentRecord>, cachedBytes: number }> {
    const records = new Map<string, ContentRecord>()
    const candidates: CacheCandidate[] = []
    let cachedBytes = 0
    for (const record of await this.components.content.list()) {
      if (record.kind !== 'cached') continue
      const key = record.cid.toString()
      cachedBytes += record.blockBytes
      if ((this.meta.get(key)?.floor ?? 0) > 0 || this.fetching.has(key)) continue
      records.set(key, record)
      candidates.push({ cid: key, size: record.blockBytes, lastAccess: record.lastAccess, ratePerMinute: this.demand.ratePerMinute(key) })
    }
    return { candidates, records, cachedBytes }
  }

  private reservedBytes (): number {
    let total = 0
    for (const bytes of this.fetching.values()) total += bytes
    return total
  }

  /** Brings cached bytes back under the quota (a user's `get` also stores as cached) */
  async enforceQuota (): Promise<void> {
    const { candidates, records, cachedBytes } = await this.evictionCandidates()
    const used = cachedBytes + this.reservedBytes()
    if (used <= this.init.cacheBytes) return
    const plan = planEviction(candidates, used, this.init.cacheBytes, { size: 0 }, Date.now())
    for (const victim of plan?.evict ?? candidates) {
      await this.drop(records.get(victim.cid)!, 'over cache quota')
    }
  }

  private pruneCheckers (): void {
    const now = Date.now()
    for (const [key, until] of this.checkers) {
      if (until < now) this.checkers.delete(key)
    }
  }

  private takeOfferToken (peer: string): boolean {
    const now = Date.now()
    const bucket = this.offerTokens.get(peer) ?? { tokens: this.init.offersPerMinutePerPeer, at: now }
    bucket.tokens = Math.min(this.init.offersPerMinutePerPeer, bucket.tokens + (now - bucket.at) / 60_000 * this.init.offersPerMinutePerPeer)
    bucket.at = now
    this.offerTokens.set(peer, bucket)
    if (bucket.tokens < 1) return false
    bucket.tokens -= 1
    return true
  }

  private async handle (message: ReplicationMessage, from: PeerId): Promise<ReplicationMessage> {
    if (message.type === 'holder-query') {
      this.checkers.set(`${message.root.toString()}/${from.toString()}`, Date.now() + CHECKER_WINDOW_MS)
      if (this.checkers.size > 10_000) this.pruneCheckers()
      const record = await this.components.content.get(message.root).catch(() => undefined)
      let { has } = await this.components.sharing.holding(message.root)
      let proof: string | undefined
      if (has === 'full' && message.probe !== undefined) {
        proof = await this.components.content.prove(message.probe.cid, message.probe.nonce)
        // A kept copy that cannot read the probed block is not whole: a `get -o` whose file the user
        // changed or deleted (its leaves are kept by reference). Saying so is not lying.
        if (proof === undefined) has = 'partial'
      }
      return { type: 'holder-reply', has, kind: record?.kind as HolderKind | undefined, floor: this.meta.get(message.root)?.floor, proof }
    }
    if (message.type !== 'offer') {
      return { type: 'offer-reply', accepted: false, reason: 'unexpected message' }
    }
    return this.considerOffer(message, from)
  }

  private async considerOffer (offer: OfferMessage, from: PeerId): Promise<ReplicationMessage> {
    const key = offer.root.toString()
    const decline = (reason: string): ReplicationMessage => {
      this.events.emit('replication:declined', { root: key, from: from.toString(), reason })
      return { type: 'offer-reply', accepted: false, reason }
    }
    if (!this.takeOfferToken(from.toString())) return decline('rate-limited')
    if (this.fetching.has(key) || this.components.sharing.isFetching(offer.root)) return { type: 'offer-reply', accepted: true, reason: 'already fetching' }
    if (Date.now() - (this.failedOffers.get(key) ?? 0) < FAILED_OFFER_MEMORY_MS) return decline('recently failed')
    const stat = await this.components.content.stat(offer.root).catch(() => undefined)
    if (stat?.complete === true && stat.record != null) {
      if (offer.floor > (this.meta.get(key)?.floor ?? 0)) await this.meta.set(key, { floor: offer.floor, role: this.meta.get(key)?.role ?? 'floor' })
      return { type: 'offer-reply', accepted: true, reason: 'already held' }
    }
    if (this.fetching.size >= this.init.maxConcurrentFetches) return decline('busy')
    const { candidates, records, cachedBytes } = await this.evictionCandidates()
    const used = cachedBytes + this.reservedBytes()
    const plan = planEviction(candidates, used, this.init.cacheBytes, { size: offer.size }, Date.now())
    if (plan == null) return decline('quota')
    for (const victim of plan.evict) {
      await this.drop(records.get(victim.cid)!, 'made room for a replica')
    }
    this.fetching.set(key, offer.size)
    void this.fetchReplica(offer, from).finally(() => { this.fetching.delete(key) })
    this.events.emit('replication:accepted', { root: key, from: from.toString(), reason: offer.reason })
    return { type: 'offer-reply', accepted: true }
  }

  private async fetchReplica (offer: OfferMessage, from: PeerId): Promise<void> {
    const key = offer.root.toString()
    const signals = [AbortSignal.timeout(this.init.fetchTimeoutMs)]
    if (this.controller != null) signals.push(this.controller.signal)
    try {
      const fromAddrs = this.components.libp2p.getConnections(from).map(c => c.remoteAddr.encapsulate(`/p2p/${from.toString()}`).toString())
      for await (const _ of this.components.sharing.fetch(offer.root, { hints: [...offer.hints, ...fromAddrs].slice(0, 8), kind: 'cached', askConnected: false, signal: AbortSignal.any(signals) })) { /* progress not needed */ }
      await this.meta.set(key, { floor: offer.floor, role: offer.reason === 'floor' ? 'floor' : 'demand' })
      if (offer.reason === 'demand' && offer.floor === 0) await this.meta.delete(key)
      await this.components.content.touch(offer.root).catch(() => {})
      this.events.emit('replication:stored', { root: key, from: from.toString(), reason: offer.reason })
    } catch (err) {
      this.failedOffers.set(key, Date.now())
      this.events.emit('replication:failed', { root: key, from: from.toString(), error: (err as Error).message })
    }
  }

  /** `kizuna replicas CID` */
  async replicas (root: CID, signal?: AbortSignal): Promise<Holder[]> {
    const record = await this.components.content.get(root).catch(() => undefined)
    // a kept root is complete by construction (its record is written after a full scan)
    return findHolders(root, this.components, { kind: record?.kind, floor: this.meta.get(root)?.floor }, { signal })
  }

  stats (root: CID): { cid: string, ratePerMinute: number, totalRequests: number, lastRequest: string | null, floor: number, role: string | null, lastCountedHolders: number | null } {
    const key = root.toString()
    const snapshot = this.demand.snapshot(key)
    const meta = this.meta.get(key)
    return {
      cid: key,
      ratePerMinute: snapshot?.ratePerMinute ?? 0,
      totalRequests: snapshot?.totalRequests ?? 0,
      lastRequest: snapshot?.lastRequest ?? null,
      floor: meta?.floor ?? 0,
      role: meta?.role ?? null,
      lastCountedHolders: this.holderCounts.get(key) ?? null
    }
  }
}
