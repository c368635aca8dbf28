import { createLibp2p, type Libp2p } from 'libp2p'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import type { PeerId, PeerStore } from '@libp2p/interface'
import { PEER_CACHE_TTL_MS, PEER_MERGE_SKIP_MS, PeerStoreCache } from '../../src/node/peer-store-cache.js'

async function newPeer (): Promise<PeerId> {
  return peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
}

/** What the store itself holds, read past the cache */
async function stored (store: PeerStore, peer: PeerId): Promise<string[]> {
  const uncached = Object.getPrototypeOf(store).get as PeerStore['get']
  return (await uncached.call(store, peer)).protocols
}

describe('peer store cache', () => {
  let libp2p: Libp2p
  let store: PeerStore
  let cache: PeerStoreCache

  beforeEach(async () => {
    // a real libp2p peer store (never started: no sockets needed for the store itself)
    libp2p = await createLibp2p({ start: false })
    store = libp2p.peerStore
    cache = PeerStoreCache.install(store)
  })

  afterEach(async () => {
    vi.restoreAllMocks()
    await libp2p.stop()
  })

  it('is installed once per store', () => {
    expect(PeerStoreCache.install(store)).toBe(cache)
  })

  it('serves repeated reads from memory, each caller with its own copy', async () => {
    const peer = await newPeer()
    await store.merge(peer, { multiaddrs: [multiaddr('/ip4/127.0.0.1/tcp/4001')], protocols: ['/a/1'] })
    const misses = cache.misses
    const first = await store.get(peer)
    const second = await store.get(peer)
    expect(cache.misses).toBe(misses)
    expect(second.protocols).toEqual(['/a/1'])
    first.protocols.push('/mutated')
    first.addresses.length = 0
    const third = await store.get(peer)
    expect(third.protocols).toEqual(['/a/1'])
    expect(third.addresses.map(a => a.multiaddr.toString())).toEqual(['/ip4/127.0.0.1/tcp/4001'])
    expect((await store.getInfo(peer)).multiaddrs.map(ma => ma.toString())).toEqual(['/ip4/127.0.0.1/tcp/4001'])
    expect(await store.has(peer)).toBe(true)
  })

  it('skips a merge that adds nothing, and writes one that does', async () => {
    const peer = await newPeer()
    await store.merge(peer, { protocols: ['/a/1'] })
    const skipped = cache.skippedMerges
    await store.merge(peer, { protocols: ['/a/1'] })
    expect(cache.skippedMerges).toBe(skipped + 1)

    await store.merge(peer, { protocols: ['/b/1'] })
    expect(cache.skippedMerges).toBe(skipped + 1)
    expect((await store.get(peer)).protocols.sort()).toEqual(['/a/1', '/b/1'])
    expect((await stored(store, peer)).sort()).toEqual(['/a/1', '/b/1'])

    // tags and addresses always go through
    await store.merge(peer, { tags: { kept: { value: 1 } } })
    expect(cache.skippedMerges).toBe(skipped + 1)
    expect((await store.get(peer)).tags.get('kept')?.value).toBe(1)
  })

  it('skips a merge of addresses the record already has (a peer named again in a DHT answer), and writes a new one', async () => {
    const peer = await newPeer()
    const first = multiaddr('/ip4/127.0.0.1/tcp/4001')
    await store.merge(peer, { multiaddrs: [first] })
    const skipped = cache.skippedMerges
    await store.merge(peer, { multiaddrs: [multiaddr('/ip4/127.0.0.1/tcp/4001')] })
    expect(cache.skippedMerges).toBe(skipped + 1)

    await store.merge(peer, { multiaddrs: [first, multiaddr('/ip4/127.0.0.1/tcp/4002')] })
    expect(cache.skippedMerges).toBe(skipped + 1)
    expect((await store.get(peer)).addresses.map(a => a.multiaddr.toString())).toEqual(['/ip4/127.0.0.1/tcp/4001', '/ip4/127.0.0.1/tcp/4002'])
  })

  it('lets a do-nothing merge through once the last write is old, so the record stays current', async () => {
    const peer = await newPeer()
    await store.merge(peer, { protocols: ['/a/1'] })
    const now = Date.now()
    vi.spyOn(Date, 'now').mockReturnValue(now + PEER_MERGE_SKIP_MS + 1)
    const skipped = cache.skippedMerges
    await store.merge(peer, { protocols: ['/a/1'] })
    expect(cache.skippedMerges).toBe(skipped)
  })

  it('reads the store again once an entry is older than the TTL', async () => {
    const peer = await newPeer()
    await store.merge(peer, { protocols: ['/a/1'] })
    await store.get(peer)
    const misses = cache.misses
    const now = Date.now()
    vi.spyOn(Date, 'now').mockReturnValue(now + PEER_CACHE_TTL_MS + 1)
    await store.get(peer)
    expect(cache.misses).toBe(misses + 1)
  })

  it('forgets a deleted peer', async () => {
    const peer = await newPeer()
    await store.merge(peer, { protocols: ['/a/1'] })
    await store.get(peer)
    await store.delete(peer)
    await expect(store.get(peer)).rejects.toHaveProperty('name', 'NotFoundError')
    expect(await store.has(peer)).toBe(false)
  })

  it('a patch replaces what was cached', async () => {
    const peer = await newPeer()
    await store.merge(peer, { protocols: ['/a/1', '/b/1'] })
    await store.get(peer)
    await store.patch(peer, { protocols: ['/c/1'] })
    expect((await store.get(peer)).protocols).toEqual(['/c/1'])
  })
})
