import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import type { PeerId } from '@libp2p/interface'
import { EvictionService, EVICTION_QUARANTINE_FACTOR, EVICTION_QUARANTINE_MIN_MS, MAX_QUARANTINED_PEERS, type EvictionComponents } from '../../src/peers/eviction.js'
import { PeerView } from '../../src/peers/peer-view.js'
import { Testnet } from '../../src/testnet/testnet.js'
import type { PeerSummary } from '../../src/node/node.js'
import { waitFor } from '../helpers/wait.js'

const PEER_TIMEOUT_S = 4
/** Eviction may lag peerTimeout by one liveness round plus one ping, on a loaded machine more */
const EVICTION_MARGIN_MS = 15_000

describe('eviction of a hung peer (SIGSTOPped daemon process, sockets stay open)', () => {
  let testnet: Testnet

  beforeAll(async () => {
    testnet = await Testnet.start({ size: 4, mode: 'process', bootstrap: 'first', peerTimeout: PEER_TIMEOUT_S })
  })

  afterAll(async () => {
    await testnet?.stop()
  })

  it('drops the frozen peer from every other node within peerTimeout + margin, keeps the live ones', async () => {
    const [a, b, c, frozen] = testnet.members
    const observers = [a, b, c]
    // when each observer last heard the soon-frozen peer: eviction must wait a full peerTimeout
    // of silence from there (on a loaded machine a ping can be missed well before the freeze)
    const lastSeenBefore = await waitFor(async () => {
      const views = await Promise.all(observers.map(async m => m.child!.api.get<PeerSummary[]>('/peers')))
      const seen = views.map(peers => peers.find(p => p.peerId === frozen.peerId && p.rttMs != null)?.lastSeen)
      return seen.every(at => at != null) ? seen.map(at => Date.parse(at!)) : undefined
    }, { timeoutMs: 60_000, message: 'everyone to have pinged the soon-frozen peer' })

    frozen.child!.freeze()
    const frozenAt = Date.now()
    const evictedAt = await Promise.all(observers.map(async observer => {
      await waitFor(async () => {
        const peers = await observer.child!.api.get<PeerSummary[]>('/peers')
        return !peers.some(p => p.peerId === frozen.peerId)
      }, { timeoutMs: PEER_TIMEOUT_S * 1000 + EVICTION_MARGIN_MS, intervalMs: 200, message: `${observer.index} to evict the frozen peer` })
      return Date.now()
    }))
    // not before the timeout: a live-but-slow peer deserves its full peerTimeout of silence
    // (the last contact may be later than the one read above, never earlier)
    evictedAt.forEach((at, i) => {
      expect(at - lastSeenBefore[i]).toBeGreaterThanOrEqual(PEER_TIMEOUT_S * 1000 - 500)
    })
    const evictedAfter = evictedAt.map(at => at - frozenAt)

    // the live peers are still there, and the routing tables lost the frozen one too
    for (const observer of observers) {
      const peers = await observer.child!.api.get<PeerSummary[]>('/peers')
      const others = observers.filter(o => o !== observer).map(o => o.peerId)
      for (const id of others) {
        expect(peers.map(p => p.peerId)).toContain(id)
      }
      const status = await observer.child!.api.get<{ routingTableSize: number, peers: { connected: number } }>('/status')
      expect(status.routingTableSize).toBeLessThanOrEqual(2)
    }
    console.log(`eviction latency after SIGSTOP (peerTimeout ${PEER_TIMEOUT_S}s): ${evictedAfter.map(ms => `${ms} ms`).join(', ')}`)
  })
})

describe('EvictionService: quarantine of evicted peers', () => {
  const network = {
    getConnections: () => [],
    peerStore: { delete: async () => {} },
    services: { dht: { routingTable: { remove: async () => {} } } }
  } as unknown as EvictionComponents['network']

  async function peers (count: number): Promise<PeerId[]> {
    return Promise.all(Array.from({ length: count }, async () => peerIdFromPrivateKey(await generateKeyPair('Ed25519'))))
  }

  afterEach(() => { vi.useRealTimers() })

  it('keeps an evicted peer out for max(60 s, 10 × peerTimeout), unless it speaks to us', async () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    const view = new PeerView()
    const eviction = new EvictionService({ view, network }, { peerTimeoutMs: 4_000 })
    const evicted: string[] = []
    eviction.on('peer:evicted', e => evicted.push(e.peerId))
    const [a, b] = await peers(2)
    for (const id of [a, b]) view.learn(id, [], 'discovery')
    for (const id of [a, b]) await eviction.evict(view.get(id)!, 'silent')
    expect(evicted).toEqual([a.toString(), b.toString()])
    expect(view.size).toBe(0)
    expect(eviction.isQuarantined(a)).toBe(true)
    eviction.release(b)
    expect(eviction.isQuarantined(b)).toBe(false)
    vi.setSystemTime(Date.now() + EVICTION_QUARANTINE_MIN_MS - 1_000)
    expect(eviction.isQuarantined(a)).toBe(true)
    vi.setSystemTime(Date.now() + 2_000)
    expect(eviction.isQuarantined(a)).toBe(false)

    const long = new EvictionService({ view, network }, { peerTimeoutMs: 60_000 })
    view.learn(a, [], 'discovery')
    await long.evict(view.get(a)!, 'silent')
    vi.setSystemTime(Date.now() + 60_000 * EVICTION_QUARANTINE_FACTOR - 1_000)
    expect(long.isQuarantined(a)).toBe(true)
  })

  it('remembers at most MAX_QUARANTINED_PEERS evictions, forgetting the oldest first', async () => {
    const view = new PeerView()
    const eviction = new EvictionService({ view, network }, { peerTimeoutMs: 4_000 })
    const ids = await peers(MAX_QUARANTINED_PEERS + 1)
    for (const id of ids) {
      view.learn(id, [], 'discovery')
      await eviction.evict(view.get(id)!, 'silent')
    }
    expect(eviction.isQuarantined(ids[0])).toBe(false)
    expect(eviction.isQuarantined(ids[1])).toBe(true)
    expect(eviction.isQuarantined(ids[ids.length - 1])).toBe(true)
    eviction.stop()
    expect(eviction.isQuarantined(ids[1])).toBe(false)
  })
})
