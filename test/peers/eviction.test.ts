import { afterAll, beforeAll, describe, expect, it } from 'vitest'
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
