import { EventEmitter } from 'node:events'
import { PeerMap } from '@libp2p/peer-collections'
import { logger } from '@libp2p/logger'
import type { PeerId } from '@libp2p/interface'
import type { KizunaLibp2p } from '../libp2p/types.js'
import { KizunaError } from '../errors.js'
import type { PeerRecord, PeerView } from './peer-view.js'
import type { PeerEvictedEvent } from './events.js'

/** An evicted peer is not re-learned from rumours for peerTimeout × this (and at least the minimum) */
export const EVICTION_QUARANTINE_FACTOR = 10
export const EVICTION_QUARANTINE_MIN_MS = 60_000
/** Bound on remembered evictions: the oldest is forgotten first (it only loses its quarantine) */
export const MAX_QUARANTINED_PEERS = 4_096

const log = logger('kizuna:peers:eviction')

export interface EvictionComponents {
  view: PeerView
  network: Pick<KizunaLibp2p, 'getConnections' | 'peerStore' | 'services'>
}

export interface EvictionInit {
  /** ms of silence before a peer is evicted; the quarantine is a multiple of it */
  peerTimeoutMs: number
}

/**
 * Evict (principle 6): a silent peer leaves the view, the Kademlia table and the peer store, its
 * connections are aborted, and it stays quarantined — other peers keep naming it in DHT answers
 * for a while, and only the peer itself talking to us (identify) lets it back in early.
 */
export class EvictionService extends EventEmitter<{ 'peer:evicted': [PeerEvictedEvent] }> {
  private readonly components: EvictionComponents
  private readonly quarantineMs: number
  private readonly evictedAt = new PeerMap<number>()

  constructor (components: EvictionComponents, init: EvictionInit) {
    super()
    this.components = components
    this.quarantineMs = Math.max(EVICTION_QUARANTINE_MIN_MS, init.peerTimeoutMs * EVICTION_QUARANTINE_FACTOR)
  }

  start (): void {}

  stop (): void {
    this.evictedAt.clear()
  }

  isQuarantined (peerId: PeerId): boolean {
    const at = this.evictedAt.get(peerId)
    if (at === undefined) return false
    if (Date.now() - at > this.quarantineMs) {
      this.evictedAt.delete(peerId)
      return false
    }
    return true
  }

  /** The peer spoke to us: alive, whatever we thought before */
  release (peerId: PeerId): void {
    this.evictedAt.delete(peerId)
  }

  /** Drops a silent peer from every view we keep and closes its connections */
  async evict (record: PeerRecord, reason: string): Promise<void> {
    const { view, network } = this.components
    const silentMs = view.silentFor(record)
    view.remove(record.peerId)
    this.quarantine(record.peerId)
    const dht = network.services.dht as unknown as { routingTable?: { remove(peer: PeerId): Promise<void> } }
    await dht.routingTable?.remove(record.peerId).catch(() => {})
    // abort, not close: a hung peer would never acknowledge a graceful close
    for (const connection of network.getConnections(record.peerId)) {
      connection.abort(new KizunaError('ERR_PEER_EVICTED', `peer evicted: ${reason}`))
    }
    await network.peerStore.delete(record.peerId).catch(() => {})
    log('evicted %p: %s', record.peerId, reason)
    this.emit('peer:evicted', { peerId: record.peerId.toString(), reason, silentMs })
  }

  private quarantine (peerId: PeerId): void {
    this.evictedAt.delete(peerId)
    if (this.evictedAt.size >= MAX_QUARANTINED_PEERS) {
      // PeerMap keeps insertion order: the first key is the oldest eviction
      const oldest = this.evictedAt.keys().next().value
      if (oldest !== undefined) this.evictedAt.delete(oldest)
    }
    this.evictedAt.set(peerId, Date.now())
  }
}
