import { RateLimiter } from '@libp2p/utils'
import { LRUCache } from 'lru-cache'
import type { PeerId } from '@libp2p/interface'
import type { KizunaLibp2p } from '../libp2p/types.js'
import type { BlockStore, ContentStore } from '../content/index.js'
import type { SharingService } from '../sharing/sharing-service.js'
import type { OfferMessage, OfferReplyMessage } from './codec.js'
import type { CacheQuota } from './cache-quota.js'
import type { ReplicaMetaStore } from './replica-meta.js'
import type { ReplicationEvents } from './events.js'
import { FAILED_OFFER_MEMORY_MS, MAX_HINTS, MAX_TRACKED_ROOTS } from './constants.js'
import { supersedes, verifyFloorCert, type FloorCert } from './floor-cert.js'
import { ReplicaFetchGuard } from './replica-fetch.js'
import { timeoutSignal } from '../util/timeout-signal.js'

export interface OfferIntakeComponents {
  libp2p: KizunaLibp2p
  content: ContentStore
  /** where replica blocks go, through a guard that counts them (replica-fetch.ts) */
  blockStore: BlockStore
  sharing: SharingService
  meta: ReplicaMetaStore
  quota: CacheQuota
  events: ReplicationEvents
}

export interface OfferIntakeInit {
  offersPerMinutePerPeer: number
  maxConcurrentFetches: number
  fetchTimeoutMs: number
  fetchStallMs: number
  maxFetchesPerOfferer: number
}

/**
 * Offers from other holders: accept or decline (rate, penalty, signed floor, floor budget,
 * quota, busy, recently failed), then fetch, never more bytes than the offer claimed.
 */
export class OfferIntake {
  private readonly components: OfferIntakeComponents
  private readonly init: OfferIntakeInit
  /** offers accepted per peer per minute; entries expire with their window */
  private readonly rates: RateLimiter
  /** roots whose offered fetch failed lately: declined until the entry expires */
  private readonly failed = new LRUCache<string, true>({ max: MAX_TRACKED_ROOTS, ttl: FAILED_OFFER_MEMORY_MS })
  /** offerer → replica fetches of its offers running now (at most the fetch slots) */
  private readonly slots = new Map<string, number>()

  constructor (components: OfferIntakeComponents, init: OfferIntakeInit) {
    this.components = components
    this.init = init
    this.rates = new RateLimiter({ points: init.offersPerMinutePerPeer, duration: 60, keyPrefix: '' })
  }

  async consider (offer: OfferMessage, from: PeerId, signal: AbortSignal): Promise<OfferReplyMessage> {
    const { sharing, content, meta, quota, events } = this.components
    const key = offer.root.toString()
    const decline = (reason: string): OfferReplyMessage => {
      events.emit('replication:declined', { root: key, from: from.toString(), reason })
      return { type: 'offer-reply', accepted: false, reason }
    }
    if (!this.takeToken(from)) return decline('rate-limited')
    if (sharing.penalties.isPenalised(from.toString())) return decline('penalised')
    if (quota.isReserved(key) || sharing.isFetching(offer.root)) return { type: 'offer-reply', accepted: true, reason: 'already fetching' }
    if (this.failed.has(key)) return decline('recently failed')
    // the floor is the publisher's signed one, never the number the offerer wrote
    const cert = await verifyFloorCert(offer.floorCert, offer.root) ? offer.floorCert : undefined
    if (offer.reason === 'floor' && (cert == null || cert.floor === 0)) return decline('unsigned floor')
    const stat = await content.stat(offer.root).catch(() => undefined)
    if (stat?.complete === true && stat.record != null) {
      const known = meta.get(key)
      const becomesFloor = (known?.floor ?? 0) === 0 && stat.record.kind === 'cached'
      if (cert != null && cert.floor > 0 && supersedes(cert, known?.cert) && (!becomesFloor || await quota.floorRoom(stat.record.blockBytes))) {
        await meta.set(key, { floor: cert.floor, role: known?.role ?? 'floor', cert })
      }
      return { type: 'offer-reply', accepted: true, reason: 'already held' }
    }
    if (quota.reservations >= this.init.maxConcurrentFetches) return decline('busy')
    if ((this.slots.get(from.toString()) ?? 0) >= this.init.maxFetchesPerOfferer) return decline('busy')
    const floor = cert?.floor ?? 0
    if (floor > 0 && !await quota.floorRoom(offer.size)) return decline('floor budget')
    if (!await quota.makeRoom(offer.size, 'made room for a replica')) return decline('quota')
    quota.reserve(key, offer.size, floor > 0)
    this.takeSlot(from.toString(), 1)
    void this.fetch(offer, cert, from, signal).finally(() => {
      quota.release(key)
      this.takeSlot(from.toString(), -1)
    })
    events.emit('replication:accepted', { root: key, from: from.toString(), reason: offer.reason })
    return { type: 'offer-reply', accepted: true }
  }

  private takeSlot (peer: string, delta: number): void {
    const left = (this.slots.get(peer) ?? 0) + delta
    if (left > 0) this.slots.set(peer, left)
    else this.slots.delete(peer)
  }

  private takeToken (peer: PeerId): boolean {
    try {
      this.rates.consume(peer.toString())
      return true
    } catch {
      return false
    }
  }

  private async fetch (offer: OfferMessage, cert: FloorCert | undefined, from: PeerId, signal: AbortSignal): Promise<void> {
    const { libp2p, sharing, content, meta, events, blockStore } = this.components
    const key = offer.root.toString()
    // the quota reserved the claimed size: a replica growing past it is refused mid-fetch
    const guard = new ReplicaFetchGuard(blockStore, { maxBytes: offer.size, stallMs: this.init.fetchStallMs })
    try {
      const fromAddrs = libp2p.getConnections(from).map(c => c.remoteAddr.encapsulate(`/p2p/${from.toString()}`).toString())
      const fetchSignal = AbortSignal.any([timeoutSignal(this.init.fetchTimeoutMs), signal, guard.signal])
      for await (const _ of sharing.fetch(offer.root, { hints: [...offer.hints, ...fromAddrs].slice(0, MAX_HINTS), kind: 'cached', askConnected: false, signal: fetchSignal, blockStore: guard.store, onShared: () => { guard.shared() } })) { /* progress not needed */ }
      guard.done()
      if (cert != null && cert.floor > 0) await meta.set(key, { floor: cert.floor, role: offer.reason === 'floor' ? 'floor' : 'demand', cert })
      else await meta.delete(key)
      await content.touch(offer.root).catch(() => {})
      events.emit('replication:stored', { root: key, from: from.toString(), reason: offer.reason })
    } catch (err) {
      const why = guard.signal.aborted ? guard.signal.reason as Error : err as Error
      // a replica larger than its offer said: the offerer lied about what it asked us to keep
      if ((why as { code?: string }).code === 'ERR_REPLICA_TOO_LARGE') sharing.penalties.penalise(from.toString(), 'bad-offer')
      if (await content.get(offer.root).catch(() => undefined) == null) await guard.discard()
      this.failed.set(key, true)
      events.emit('replication:failed', { root: key, from: from.toString(), error: why.message, code: (why as { code?: string }).code })
    } finally {
      guard.done()
    }
  }

  /** Forgets rate windows and failures (on stop) */
  clear (): void {
    for (const key of [...this.rates.memoryStorage.storage.keys()]) this.rates.memoryStorage.delete(key)
    this.failed.clear()
    this.slots.clear()
  }

  prune (): void {
    this.failed.purgeStale()
  }

  sizes (): { rateWindows: number, failedOffers: number, offererSlots: number } {
    return { rateWindows: this.rates.memoryStorage.storage.size, failedOffers: this.failed.size, offererSlots: this.slots.size }
  }
}
