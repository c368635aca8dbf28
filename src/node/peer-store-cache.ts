import type { AbortOptions, Peer, PeerData, PeerId, PeerStore } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'

/** A decoded peer is served from memory for this long after it was read or written */
export const PEER_CACHE_TTL_MS = 30_000
/**
 * A merge that adds nothing (protocols and addresses the record has) is skipped while the record
 * was written this recently; after that it goes through, so the record's "updated" time, which
 * libp2p ages peers out by, still moves for a peer we keep talking to
 */
export const PEER_MERGE_SKIP_MS = 30_000
/** Decoded peers kept at most; beyond this the cache starts over */
export const MAX_CACHED_PEERS = 4_096

interface CachedPeer {
  peer: Peer
  readAt: number
  writtenAt: number
}

/**
 * Serves libp2p's peer store reads from memory and skips merges that change nothing.
 *
 * libp2p merges the protocol of every stream into the peer store, both ways, and the DHT reads a
 * peer record for every peer it names in an answer: each is a lock, a protobuf decode of the
 * record and a rebuild of every multiaddr, and a merge also re-encodes and writes the record back.
 * A 17-daemon crowd spent ~14 % of its CPU there (cpu profiles, 16 × 64 MiB), and one tiny `get`
 * cost the swarm 1.2 CPU-s in all. PeerRecordCache already keeps the bytes in memory; this keeps
 * the decoded peer.
 *
 * It wraps the store object itself (libp2p hands the same instance to every component), so
 * every reader and writer goes through it. Writes always reach the store and refresh the entry
 * with what the store returned; a read that was in flight across a write is not cached, so a
 * stale record can never overwrite a newer one. Entries live PEER_CACHE_TTL_MS, which keeps the
 * store's own ageing (addresses and peers expire after hours) in force.
 */
export class PeerStoreCache {
  private readonly store: PeerStore
  private readonly entries = new Map<string, CachedPeer>()
  /** key → sequence number of the last write started; a read caches its result only if it did not change */
  private readonly versions = new Map<string, number>()
  private sequence = 0
  hits = 0
  misses = 0
  skippedMerges = 0

  private constructor (store: PeerStore) {
    this.store = store
  }

  /** Installs the cache on `store` (once) and returns it */
  static install (store: PeerStore): PeerStoreCache {
    const installed = (store as { [CACHE]?: PeerStoreCache })[CACHE]
    if (installed !== undefined) return installed
    const cache = new PeerStoreCache(store)
    cache.wrap()
    Object.defineProperty(store, CACHE, { value: cache })
    return cache
  }

  private wrap (): void {
    const store = this.store
    const get = store.get.bind(store)
    const has = store.has.bind(store)
    const merge = store.merge.bind(store)
    const patch = store.patch.bind(store)
    const save = store.save.bind(store)
    const remove = store.delete.bind(store)

    store.get = async (peerId: PeerId, options?: AbortOptions): Promise<Peer> => await this.read(peerId, async () => await get(peerId, options))
    store.has = async (peerId: PeerId, options?: AbortOptions): Promise<boolean> => {
      if (this.fresh(peerId.toString(), Date.now()) !== undefined) return true
      return await has(peerId, options)
    }
    store.merge = async (peerId: PeerId, data: PeerData, options?: AbortOptions): Promise<Peer> => {
      const now = Date.now()
      const entry = this.fresh(peerId.toString(), now)
      if (entry !== undefined && now - entry.writtenAt < PEER_MERGE_SKIP_MS && addsNothing(entry.peer, data)) {
        this.skippedMerges++
        return copyOf(entry.peer)
      }
      return await this.write(peerId, async () => await merge(peerId, data, options))
    }
    store.patch = async (peerId: PeerId, data: PeerData, options?: AbortOptions): Promise<Peer> => await this.write(peerId, async () => await patch(peerId, data, options))
    store.save = async (peerId: PeerId, data: PeerData, options?: AbortOptions): Promise<Peer> => await this.write(peerId, async () => await save(peerId, data, options))
    store.delete = async (peerId: PeerId, options?: AbortOptions): Promise<void> => {
      await this.write(peerId, async () => { await remove(peerId, options) })
    }
  }

  private async read (peerId: PeerId, load: () => Promise<Peer>): Promise<Peer> {
    const key = peerId.toString()
    const now = Date.now()
    const entry = this.fresh(key, now)
    if (entry !== undefined) {
      this.hits++
      return copyOf(entry.peer)
    }
    this.misses++
    const version = this.versions.get(key)
    const peer = await load()
    if (this.versions.get(key) === version) this.remember(key, peer, now, this.entries.get(key)?.writtenAt ?? 0)
    return copyOf(peer)
  }

  private async write<T> (peerId: PeerId, body: () => Promise<T>): Promise<T> {
    const key = peerId.toString()
    this.versions.set(key, ++this.sequence)
    this.entries.delete(key)
    const result = await body()
    // the store serialises writes to one peer, so the last to finish holds the newest record
    if (isPeer(result)) {
      const now = Date.now()
      this.remember(key, result, now, now)
    }
    return result
  }

  private fresh (key: string, now: number): CachedPeer | undefined {
    const entry = this.entries.get(key)
    if (entry === undefined) return undefined
    if (now - entry.readAt > PEER_CACHE_TTL_MS) {
      this.entries.delete(key)
      return undefined
    }
    return entry
  }

  private remember (key: string, peer: Peer, readAt: number, writtenAt: number): void {
    if (this.entries.size >= MAX_CACHED_PEERS) this.entries.clear()
    this.entries.set(key, { peer, readAt, writtenAt })
    if (this.versions.size >= MAX_CACHED_PEERS * 4) this.versions.clear()
  }
}

const CACHE = Symbol.for('kizuna.peer-store-cache')

function isPeer (value: unknown): value is Peer {
  return typeof value === 'object' && value !== null && 'id' in value && Array.isArray((value as Peer).addresses)
}

/** Callers get their own arrays and maps, so none can change what the next caller sees */
function copyOf (peer: Peer): Peer {
  return {
    ...peer,
    addresses: [...peer.addresses],
    protocols: [...peer.protocols],
    metadata: new Map(peer.metadata),
    tags: new Map(peer.tags)
  }
}

/**
 * True when merging `data` into `peer` would change nothing: only protocols and addresses it
 * already has (every peer named in a DHT answer is merged again with the addresses it came with)
 */
function addsNothing (peer: Peer, data: PeerData): boolean {
  for (const [field, value] of Object.entries(data)) {
    if (value === undefined) continue
    if (field === 'protocols') {
      if (!(value as string[]).every(protocol => peer.protocols.includes(protocol))) return false
    } else if (field === 'multiaddrs') {
      const known = new Set(peer.addresses.map(address => address.multiaddr.toString()))
      if (!(value as Multiaddr[]).every(ma => known.has(ma.toString()))) return false
    } else {
      return false
    }
  }
  return true
}
