import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Testnet } from '../../src/testnet/testnet.js'
import type { PeerSummary } from '../../src/node/node.js'
import { waitFor } from '../helpers/wait.js'

describe('rejoin after restart from the saved peer store', () => {
  let testnet: Testnet

  beforeAll(async () => {
    testnet = await Testnet.start({ size: 4, mode: 'process', bootstrap: 'first', peerTimeout: 60 })
  })

  afterAll(async () => {
    await testnet?.stop()
  })

  it('a node restarted with no bootstrap flag reconnects to the peers it knew', async () => {
    const target = testnet.members[3]
    await waitFor(async () => (await target.child!.api.get<PeerSummary[]>('/peers')).length >= 3, {
      timeoutMs: 60_000,
      message: 'the node to know all three others'
    })
    const before = testnet.members.slice(0, 3).map(m => m.peerId).sort()

    // kill -9: the peer store must have been persisted as it went, not only on clean shutdown
    await target.child!.kill()
    const restarted = await testnet.restart(target)
    expect(restarted.peerId).toBe(target.peerId)

    const peers = await waitFor(async () => {
      const list = await restarted.child!.api.get<PeerSummary[]>('/peers')
      const alive = list.filter(p => p.lastSeen != null).map(p => p.peerId).sort()
      return before.every(id => alive.includes(id)) ? list : undefined
    }, { timeoutMs: 60_000, message: 'the restarted node to reconnect to its saved peers' })
    expect(peers.length).toBeGreaterThanOrEqual(3)
    const status = await restarted.child!.api.get<{ peers: { connected: number } }>('/status')
    expect(status.peers.connected).toBeGreaterThanOrEqual(1)
  })
})
