import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Testnet } from '../../src/testnet/testnet.js'
import { waitFor } from '../helpers/wait.js'

describe('discovery in a 20-node swarm where each node knows one bootstrap peer', () => {
  let testnet: Testnet

  beforeAll(async () => {
    testnet = await Testnet.start({ size: 20, mode: 'in-process', bootstrap: 'random', peerTimeout: 120 })
    await Promise.all(testnet.members.map(async m => m.node!.joined()))
  })

  afterAll(async () => {
    await testnet?.stop()
  })

  it('every node ends up knowing at least 10 peers', async () => {
    await waitFor(() => testnet.members.every(m => m.node!.status().peers.known >= 10), {
      timeoutMs: 90_000,
      message: 'every view ≥ 10'
    }).catch(err => {
      throw new Error(`${(err as Error).message}; view sizes: ${testnet.members.map(m => m.node!.status().peers.known).join(',')}`)
    })
    const sizes = testnet.members.map(m => m.node!.status().peers.known)
    console.log(`20-node one-bootstrap swarm, peers known per node: min ${Math.min(...sizes)}, max ${Math.max(...sizes)}, all: ${sizes.join(',')}`)
    expect(Math.min(...sizes)).toBeGreaterThanOrEqual(10)
    for (const member of testnet.members) {
      // the routing table is filled too, not only the view
      expect(member.node!.status().routingTableSize).toBeGreaterThanOrEqual(5)
      // nobody lists itself
      expect(member.node!.peers().map(p => p.peerId)).not.toContain(member.peerId)
    }
  })

  it('a refresh round records RTT and last-seen for known peers', async () => {
    const node = testnet.members[7].node!
    const before = Date.now()
    await node.refresh()
    const roundMs = Date.now() - before
    const peers = node.peers()
    const answered = peers.filter(p => p.rttMs != null && p.lastSeen != null && Date.parse(p.lastSeen) >= before - 1000)
    expect(answered.length).toBeGreaterThanOrEqual(10)
    for (const peer of answered) {
      expect(peer.rttMs).toBeGreaterThanOrEqual(0)
      // an RTT measured in this round cannot be longer than the round (a loaded 2-core box made
      // them 12.8 s once, so no fixed bound)
      expect(peer.rttMs).toBeLessThanOrEqual(roundMs)
    }
  })
})
