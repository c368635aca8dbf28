import { RateLimiter } from '@libp2p/utils'
import { LRUCache } from 'lru-cache'
import type { PeerId } from '@libp2p/interface'
import type { KizunaLibp2p } from '../libp2p/types.js'
import type { ContentStore } from '../content/index.js'
import type { SharingService } from '../sharing/sharing-service.js'
import type { OfferMessage, OfferReplyMessage } from './codec.js'
import type { CacheQuota } from './cache-quota.js'
import type { ReplicaMetaStore } from './replica-meta.js'
import type { ReplicationEvents } from './events.js'
import { FAILED_OFFER_MEMORY_MS, MAX_HINTS, MAX_TRACKED_ROOTS } from './constants.js'

export interface OfferIntakeComponents {
  libp2p: KizunaLibp2p
  content: ContentStore
  sharing: SharingService
  meta: ReplicaMetaStore
  quota: CacheQuota
  events: ReplicationEvents
}

export interface OfferIntakeInit {
  offersPerMinutePerPeer: number
  maxConcurrentFetches: number
  fetchTimeoutMs: number
}

/** Offers from other holders: accept or decline (rate, quota, busy, recently failed), then fetch */
export class OfferIntake {
  private readonly components: OfferIntakeComponents
  private readonly init: OfferIntakeInit
  /** offers accepted per peer per minute; entries expire with their window */
  private readonly rates: RateLimiter
  /** roots whose offered fetch failed lately: declined until the entry expires */
  private readonly failed = new LRUCache<string, true>({ max: MAX_TRACKED_ROOTS, ttl: FAILED_OFFER_MEMORY_MS })

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
    if (quota.isReserved(key) || sharing.isFetching(offer.root)) return { type: 'offer-reply', accepted: true, reason: 'already fetching' }
    if (this.failed.has(key)) return decline('recently failed')
    const stat = await content.stat(offer.root).catch(() => undefined)
    if (stat?.complete === true && stat.record != null) {
      const known = meta.get(key)
      if (offer.floor > (known?.floor ?? 0)) await meta.set(key, { floor: offer.floor, role: known?.role ?? 'floor' })
      return { type: 'offer-reply', accepted: true, reason: 'already held' }
    }
    if (quota.reservations >= this.init.maxConcurrentFetches) return decline('busy')
    if (!await quota.makeRoom(offer.size, 'made room for a replica')) return decline('quota')
    quota.reserve(key, offer.size)
    void this.fetch(offer, from, signal).finally(() => { quota.release(key) })
    events.emit('replication:accepted', { root: key, from: from.toString(), reason: offer.reason })
    return { type: 'offer-reply', accepted: true }
  }

  private takeToken (peer: PeerId): boolean {
    try {
      this.rates.consume(peer.toString())
      return true
    } catch {
      return false
    }
  }

  private async fetch (offer: OfferMessage, from: PeerId, signal: AbortSignal): Promise<void> {
    const { libp2p, sharing, content, meta, events } = this.components
    const key = offer.root.toString()
    try {
      const fromAddrs = libp2p.getConnections(from).map(c => c.remoteAddr.encapsulate(`/p2p/${from.toString()}`).toString())
      const fetchSignal = AbortSignal.any([AbortSignal.timeout(this.init.fetchTimeoutMs), signal])
      for await (const _ of sharing.fetch(offer.root, { hints: [...offer.hints, ...fromAddrs].slice(0, MAX_HINTS), kind: 'cached', askConnected: false, signal: fetchSignal })) { /* progress not needed */ }
      if (offer.reason === 'demand' && offer.floor === 0) await meta.delete(key)
      else await meta.set(key, { floor: offer.floor, role: offer.reason === 'floor' ? 'floor' : 'demand' })
      await content.touch(offer.root).catch(() => {})
      events.emit('replication:stored', { root: key, from: from.toString(), reason: offer.reason })
    } catch (err) {
      this.failed.set(key, true)
      events.emit('replication:failed', { root: key, from: from.toString(), error: (err as Error).message })
    }
  }

  /** Forgets rate windows and failures (on stop) */
  clear (): void {
    for (const key of [...this.rates.memoryStorage.storage.keys()]) this.rates.memoryStorage.delete(key)
    this.failed.clear()
  }

  prune (): void {
    this.failed.purgeStale()
  }

  sizes (): { rateWindows: number, failedOffers: number } {
    return { rateWindows: this.rates.memoryStorage.storage.size, failedOffers: this.failed.size }
  }
}
