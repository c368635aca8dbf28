import { randomBytes } from 'node:crypto'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { describe, expect, it } from 'vitest'
import { InMemoryBlockStore } from '../../../src/content/blocks/memory-block-store.js'
import { EXCHANGE_PROTOCOL, encodeMessage } from '../../../src/exchange/wire/codec.js'
import { ExchangeServer } from '../../../src/exchange/server/server.js'
import { RequestBudgets, DEFAULT_BUDGETS } from '../../../src/exchange/server/request-budget.js'
import { DemandTracker } from '../../../src/replication/demand.js'
import { MAX_TRACKED_ROOTS as MAX_DEMAND_ENTRIES } from '../../../src/replication/constants.js'
import { PenaltyBox } from '../../../src/sharing/penalties.js'
import { findProviders } from '../../../src/sharing/provider-source.js'
import { useExchangeFixture } from '../../helpers/exchange-fixture.js'
import { introduce } from '../../helpers/bare-node.js'
import { waitFor } from '../../helpers/wait.js'
import type { Libp2p } from '@libp2p/interface'

const { node, fetcher, adopt } = useExchangeFixture()

async function randomCid (): Promise<CID> {
  return CID.createV1(raw.code, await sha256.digest(randomBytes(16)))
}

/** A victim server whose HAVE lookups are counted (each one is real work: a stat, a scan) */
async function victim (): Promise<{ node: Libp2p, server: ExchangeServer, penalties: PenaltyBox, lookups: () => number }> {
  const n = await node()
  const penalties = new PenaltyBox()
  let lookups = 0
  const store = new InMemoryBlockStore()
  const server = new ExchangeServer({
    registrar: n,
    blockStore: store,
    penalties,
    hasContent: async (root) => { lookups++; return await store.has(root) ? 'full' : 'none' }
  })
  await server.start()
  adopt(server)
  return { node: n, server, penalties, lookups: () => lookups }
}

/**
 * Issue 16, finding 5: 300,000 HAVE queries for random roots from one peer kept a core busy for
 * 160 s and grew RSS by 250 MB. Now each peer has a budget: past it it is slowed (BUSY, nothing
 * looked up), far past it dropped and penalised; malformed frames penalise too.
 */
describe('per-peer request budgets against a HAVE flood', () => {
  it('slows, then drops and penalises a peer flooding HAVE queries; honest peers are still answered', async () => {
    const v = await victim()
    const attacker = await fetcher([v.node])
    const honest = await fetcher([v.node])
    const stream = await attacker.node.dialProtocol(v.node.peerId, EXCHANGE_PROTOCOL)
    const queries = 20_000
    const cids = await Promise.all(Array.from({ length: 64 }, randomCid))
    let sent = 0
    try {
      for (let id = 1; id <= queries && stream.status === 'open'; id++) {
        if (!stream.send(encodeMessage({ type: 'have-query', id, cid: cids[id % cids.length] }) as Uint8Array)) await stream.onDrain().catch(() => {})
        sent++
      }
    } catch {
      // the victim hung up on us: that is the point
    }
    await waitFor(() => v.penalties.isPenalised(attacker.node.peerId.toString()), { timeoutMs: 20_000, message: 'the flooder penalised' })
    const budget = DEFAULT_BUDGETS.have
    // at most its burst plus what the rate refilled while the flood lasted (well under a minute)
    expect(v.lookups()).toBeLessThan(budget.burst + budget.ratePerSecond * 60)
    expect(v.server.stats().overBudget).toBeGreaterThan(0)
    expect(v.server.stats().peersDropped).toBe(1)
    expect(sent).toBeGreaterThan(budget.burst)
    // its new streams are refused
    await waitFor(async () => {
      const again = await attacker.node.dialProtocol(v.node.peerId, EXCHANGE_PROTOCOL).catch(() => undefined)
      if (again === undefined) return true
      try {
        again.send(encodeMessage({ type: 'have-query', id: 1, cid: cids[0] }) as Uint8Array)
      } catch {
        return true // closed already
      }
      await new Promise(resolve => { again.addEventListener('close', resolve, { once: true }); setTimeout(resolve, 2000) })
      return again.status !== 'open'
    }, { timeoutMs: 20_000, message: 'a penalised peer refused' })
    // an honest peer is answered as before
    await introduce(honest.node, v.node)
    expect(await honest.client.queryHave(v.node.peerId, cids[0])).toMatchObject({ has: 'none' })
  }, 60_000)

  it('malformed frames to the server cost the sender a penalty', async () => {
    const v = await victim()
    const attacker = await fetcher([v.node])
    const stream = await attacker.node.dialProtocol(v.node.peerId, EXCHANGE_PROTOCOL)
    stream.send(new Uint8Array([3, 99, 1, 1]))
    await waitFor(() => v.penalties.isPenalised(attacker.node.peerId.toString()), { timeoutMs: 10_000, message: 'the garbler penalised' })
  }, 30_000)

  it('penalised peers get no HAVE queries from us', async () => {
    const penalisedPeer = await victim()
    const fine = await victim()
    const asker = await fetcher([penalisedPeer.node, fine.node])
    await asker.node.dial(penalisedPeer.node.peerId)
    await asker.node.dial(fine.node.peerId)
    const penalties = new PenaltyBox()
    penalties.penalise(penalisedPeer.node.peerId.toString(), 'sent a bad block')
    const libp2p = {
      peerId: asker.node.peerId,
      peerStore: asker.node.peerStore,
      getConnections: () => asker.node.getConnections(),
      services: { dht: { findProviders: async function * () {} } }
    }
    const root = await randomCid()
    const signal = AbortSignal.timeout(3000)
    for await (const _ of findProviders(root, { libp2p: libp2p as any, client: asker.client, penalties }, { signal, dhtRounds: 0 })) { /* none has it */ }
    expect(fine.lookups()).toBe(1)
    expect(penalisedPeer.lookups()).toBe(0)
  }, 30_000)

  it('budgets and demand records stay bounded whatever the number of peers and CIDs', async () => {
    const budgets = new RequestBudgets()
    for (let i = 0; i < 10_000; i++) budgets.take(`peer-${i}`, 'have', i)
    expect(budgets.size).toBeLessThanOrEqual(4096)
    const demand = new DemandTracker()
    for (let i = 0; i < 3 * MAX_DEMAND_ENTRIES; i++) demand.record((await randomCid()).toString())
    expect(demand.size).toBeLessThanOrEqual(MAX_DEMAND_ENTRIES)
  })
})
