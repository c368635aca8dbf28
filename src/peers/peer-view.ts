import type { PeerId } from '@libp2p/interface'

/** What this node believes about one peer it knows */
export interface PeerRecord {
  peerId: PeerId
  addrs: string[]
  /** Last measured round-trip time, undefined until a ping has answered */
  rttMs?: number
  /** When the peer last answered us (ms since epoch), undefined if it never has */
  lastSeen?: number
  /** When we first learned of it; a peer that never answers is judged from here */
  firstSeen: number
  /** Consecutive liveness rounds without an answer */
  missedRounds: number
  /** How we learned of it */
  source: PeerSource
}

/** 'discovery' covers DHT answers, mDNS and bootstrap announcements (libp2p merges them) */
export type PeerSource = 'bootstrap' | 'discovery' | 'identify' | 'inbound' | 'peerstore' | 'manual'

/**
 * The node's view of the network: every peer it knows, with liveness facts. It is separate
 * from the libp2p peer store, which also keeps peers we were merely told about and never
 * check, and from the Kademlia table, which is bounded per bucket.
 */
export class PeerView {
  private readonly peers = new Map<string, PeerRecord>()
  private readonly now: () => number

  constructor (now: () => number = Date.now) {
    this.now = now
  }

  get size (): number {
    return this.peers.size
  }

  has (peerId: PeerId): boolean {
    return this.peers.has(peerId.toString())
  }

  get (peerId: PeerId): PeerRecord | undefined {
    return this.peers.get(peerId.toString())
  }

  /** Adds a peer or refreshes its addresses; returns true if it is new to the view */
  learn (peerId: PeerId, addrs: string[], source: PeerSource): boolean {
    const key = peerId.toString()
    const existing = this.peers.get(key)
    if (existing != null) {
      if (addrs.length > 0) {
        existing.addrs = [...new Set([...existing.addrs, ...addrs])]
      }
      return false
    }
    this.peers.set(key, { peerId, addrs: [...new Set(addrs)], firstSeen: this.now(), missedRounds: 0, source })
    return true
  }

  markAlive (peerId: PeerId, rttMs?: number): void {
    const record = this.peers.get(peerId.toString())
    if (record == null) {
      return
    }
    record.lastSeen = this.now()
    record.missedRounds = 0
    if (rttMs !== undefined) {
      record.rttMs = rttMs
    }
  }

  markMissed (peerId: PeerId): void {
    const record = this.peers.get(peerId.toString())
    if (record != null) {
      record.missedRounds++
    }
  }

  remove (peerId: PeerId): PeerRecord | undefined {
    const key = peerId.toString()
    const record = this.peers.get(key)
    this.peers.delete(key)
    return record
  }

  /** How long the peer has been silent, counting from first contact if it never answered */
  silentFor (record: PeerRecord): number {
    return this.now() - (record.lastSeen ?? record.firstSeen)
  }

  list (): PeerRecord[] {
    return [...this.peers.values()]
  }
}
