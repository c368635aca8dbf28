import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import * as raw from 'multiformats/codecs/raw'
import { describe, expect, it, vi } from 'vitest'
import type { PeerId } from '@libp2p/interface'
import { findProviders, type FoundProvider, type ProviderSourceComponents } from '../../src/sharing/provider-source.js'
import { PenaltyBox } from '../../src/sharing/penalties.js'

type Has = 'none' | 'partial' | 'full'

async function newPeer (): Promise<PeerId> {
  return peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
}

/**
 * The search policy on its own: connected peers answer HAVE queries as scripted, the DHT yields
 * the given providers and counts its walks.
 */
async function fixture (connected: Array<{ peer: PeerId, has: Has, delayMs?: number }>, dhtHolders: PeerId[]): Promise<{ components: ProviderSourceComponents, walks: () => number }> {
  let walks = 0
  const self = await newPeer()
  const libp2p = {
    peerId: self,
    getConnections: () => connected.map(c => ({ remotePeer: c.peer })),
    peerStore: { merge: async () => {} },
    services: {
      dht: {
        async * findProviders () {
          walks++
          yield { name: 'PROVIDER', providers: dhtHolders.map(id => ({ id, multiaddrs: [] })) }
        }
      }
    }
  }
  const client = {
    async queryHave (peer: PeerId) {
      const entry = connected.find(c => c.peer.equals(peer))
      if (entry?.delayMs !== undefined) await new Promise(resolve => setTimeout(resolve, entry.delayMs))
      return { has: entry?.has ?? 'none' }
    }
  }
  return { components: { libp2p, client, penalties: new PenaltyBox() } as unknown as ProviderSourceComponents, walks: () => walks }
}

async function someCid (): Promise<CID> {
  return CID.createV1(raw.code, await sha256.digest(new TextEncoder().encode(String(Math.random()))))
}

async function firstProviders (components: ProviderSourceComponents, count: number, options: { connectedFirst?: boolean, dhtRounds?: number }): Promise<FoundProvider[]> {
  const controller = new AbortController()
  const found: FoundProvider[] = []
  const deadline = setTimeout(() => { controller.abort() }, 5_000)
  try {
    for await (const provider of findProviders(await someCid(), components, { signal: controller.signal, dhtRounds: 1, ...options })) {
      found.push(provider)
      if (found.length >= count) break
    }
  } finally {
    clearTimeout(deadline)
    controller.abort()
  }
  return found
}

describe('provider search', () => {
  it('a fetch does not walk the DHT when a connected peer holds the whole content', async () => {
    const holder = await newPeer()
    const { components, walks } = await fixture([{ peer: holder, has: 'full' }, { peer: await newPeer(), has: 'none', delayMs: 300 }], [await newPeer()])
    const found = await firstProviders(components, 1, { connectedFirst: true })
    expect(found.map(f => f.peerId.toString())).toEqual([holder.toString()])
    // give the DHT task every chance to start: the whole holder was known before its first round
    await new Promise(resolve => setTimeout(resolve, 50))
    expect(walks()).toBe(0)
  }, 10_000)

  it('walks the DHT at once when every connected peer says none', async () => {
    const remote = await newPeer()
    const { components, walks } = await fixture([{ peer: await newPeer(), has: 'none' }, { peer: await newPeer(), has: 'none' }], [remote])
    // with timers frozen, a search that sat out the search delay would never find anyone
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] })
    try {
      const found = await firstProviders(components, 1, { connectedFirst: true })
      expect(found.map(f => f.peerId.toString())).toEqual([remote.toString()])
      expect(found[0].origin).toBe('dht')
      expect(walks()).toBe(1)
    } finally {
      vi.useRealTimers()
    }
  }, 10_000)

  it('walks the DHT when connected peers only hold parts of it', async () => {
    const partial = await newPeer()
    const remote = await newPeer()
    const { components, walks } = await fixture([{ peer: partial, has: 'partial' }], [remote])
    const found = await firstProviders(components, 2, { connectedFirst: true })
    expect(found.map(f => f.peerId.toString()).sort()).toEqual([partial.toString(), remote.toString()].sort())
    expect(walks()).toBe(1)
  }, 10_000)

  it('without connectedFirst (listing every holder) the DHT is walked alongside the connected peers', async () => {
    const holder = await newPeer()
    const remote = await newPeer()
    const { components, walks } = await fixture([{ peer: holder, has: 'full' }], [remote])
    const found = await firstProviders(components, 2, {})
    expect(found.map(f => f.peerId.toString()).sort()).toEqual([holder.toString(), remote.toString()].sort())
    expect(walks()).toBe(1)
  }, 10_000)
})
