import { createHash, randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { create as digest } from 'multiformats/hashes/digest'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Testnet } from '../../src/testnet/testnet.js'
import { REPLICATE_PROTOCOL, type OfferMessage, type ReplicationMessage } from '../../src/replication/codec.js'
import { handleReplicationStreams, request } from '../../src/replication/protocol.js'
import { handleHolderQuery } from '../../src/replication/handlers/holder-query.js'
import { signFloor } from '../../src/replication/floor-cert.js'
import type { ReplicationEventMap } from '../../src/replication/events.js'
import type { PeerId } from '@libp2p/interface'
import type { KizunaNode } from '../../src/node/node.js'
import { internalsOf, type NodeInternals } from '../../src/node/internals.js'
import { writeRandomFile } from '../helpers/files.js'
import { waitFor } from '../helpers/wait.js'
import { collect } from '../helpers/collect.js'

const MiB = 1024 * 1024
/** every node's cache quota; the floor budget is a quarter of it */
const CACHE_BYTES = 8 * MiB

/** A testnet node and the services behind it (the attacker needs the wire) */
type Peer = NodeInternals & { node: KizunaNode, peerId: PeerId }

/**
 * Issue 16, replication findings 1, 2, 3 and 8a: the attacker is a real peer speaking the
 * replication protocol over real sockets (its own handlers, or requests it crafts).
 */
describe('hostile peers against replication', () => {
  let testnet: Testnet
  let dir: string
  let nodes: Peer[]

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kizuna-hostile-repl-'))
    testnet = await Testnet.start({ size: 4, mode: 'in-process', bootstrap: 'first', peerTimeout: 60, config: { cacheBytes: CACHE_BYTES } })
    nodes = testnet.members.map(m => {
      const node = m.node as KizunaNode
      return { ...internalsOf(node), node, peerId: node.peerId }
    })
  }, 120_000)

  afterAll(async () => {
    await testnet?.stop()
    await rm(dir, { recursive: true, force: true })
  })

  async function addFile (node: Peer, name: string, size: number, replicas = 1): Promise<CID> {
    const source = join(dir, name)
    await writeRandomFile(source, size)
    const added = await collect(node.node.add(source, { replicas }))
    return CID.parse((added.find(e => e.type === 'add:done') as { cid: string }).cid)
  }

  function offer (from: Peer, root: CID, over: Partial<OfferMessage>): OfferMessage {
    return { type: 'offer', root, size: 0, reason: 'demand', floor: 0, hints: from.libp2p.getMultiaddrs().map(ma => ma.toString()).slice(0, 2), ...over }
  }

  function record<K extends keyof ReplicationEventMap> (node: Peer, name: K): Array<ReplicationEventMap[K][0]> {
    const seen: Array<ReplicationEventMap[K][0]> = []
    node.replication.events.on(name, ((e: ReplicationEventMap[K][0]) => { seen.push(e) }) as never)
    return seen
  }

  it('8a: bogus offers from one peer cannot hold every replica-fetch slot', async () => {
    const [honest, victim, attacker] = nodes
    // roots nobody has: the victim's fetch of each waits for providers that never come
    const bogus = Array.from({ length: 2 }, () => CID.createV1(raw.code, digest(0x12, createHash('sha256').update(randomBytes(32)).digest())))
    const replies = []
    for (const root of bogus) replies.push(await request(attacker.libp2p, victim.peerId, offer(attacker, root, { size: 1024 })))
    expect(replies[0]).toMatchObject({ type: 'offer-reply', accepted: true })
    // the second one would take the last slot
    expect(replies[1]).toMatchObject({ type: 'offer-reply', accepted: false, reason: 'busy' })

    const real = await addFile(honest, 'real-offer.bin', 256 * 1024)
    const stored = record(victim, 'replication:stored')
    const reply = await request(honest.libp2p, victim.peerId, offer(honest, real, { size: (await honest.content.get(real))!.blockBytes }))
    expect(reply).toMatchObject({ type: 'offer-reply', accepted: true })
    await waitFor(() => stored.some(e => e.root === real.toString()), { timeoutMs: 60_000, message: "the honest offer's replica stored" })
  }, 120_000)

  it('1: an offer cannot fill the disk past the quota: fetched bytes are capped, floors must be signed and fit a budget', async () => {
    const [, victim, , attacker] = nodes
    const failed = record(victim, 'replication:failed')
    const stored = record(victim, 'replication:stored')

    // claims 1 MiB (fits the quota), is 12 MiB: the fetch stops at the claim and leaves nothing
    const big = await addFile(attacker, 'big.bin', 12 * MiB)
    const lie = await request(attacker.libp2p, victim.peerId, offer(attacker, big, { size: MiB }))
    expect(lie).toMatchObject({ type: 'offer-reply', accepted: true })
    const failure = await waitFor(() => failed.find(e => e.root === big.toString()), { timeoutMs: 60_000, message: 'the oversized replica refused' })
    expect(failure.code).toBe('ERR_REPLICA_TOO_LARGE')
    expect(stored.some(e => e.root === big.toString())).toBe(false)
    expect(await victim.content.get(big).catch(() => undefined)).toBeUndefined()
    const blocks = (await attacker.content.blockRefs(big)) ?? []
    const kept = await Promise.all(blocks.map(async b => await victim.blocks.has(b.cid)))
    expect(kept.filter(Boolean)).toHaveLength(0)
    // the liar is refused as a provider and an offerer from now on
    expect(victim.sharing.penalties.isPenalised(attacker.peerId.toString())).toBe(true)

    // an unsigned floor is not adopted: the offer of a floor copy is declined
    const honestFloorPeer = nodes[0]
    const mid = await addFile(honestFloorPeer, 'mid.bin', 3 * MiB)
    const midSize = (await honestFloorPeer.content.get(mid))!.blockBytes
    const unsigned = await request(honestFloorPeer.libp2p, victim.peerId, offer(honestFloorPeer, mid, { size: midSize, reason: 'floor', floor: 64 }))
    expect(unsigned).toMatchObject({ accepted: false, reason: 'unsigned floor' })

    // a floor signed by its publisher, larger than the floor budget (a quarter of the quota)
    const key = await generateKeyPair('Ed25519')
    const floorCert = await signFloor(key, peerIdFromPrivateKey(key).toString(), mid, 64)
    const overBudget = await request(honestFloorPeer.libp2p, victim.peerId, offer(honestFloorPeer, mid, { size: midSize, reason: 'floor', floor: 64, floorCert }))
    expect(overBudget).toMatchObject({ accepted: false, reason: 'floor budget' })
    expect(victim.replication.stats(mid).floor).toBe(0)
  }, 120_000)

  it('2: a node holding nothing that relays the possession challenge to a real holder is not counted, and is penalised', async () => {
    const [publisher, , holder, relayer] = nodes
    const root = await addFile(publisher, 'relayed.bin', MiB)
    await collect(holder.sharing.get(root.toString(), { output: join(dir, 'holder.out') }))
    // the relayer is listed in the DHT as a provider, then keeps nothing
    await collect(relayer.sharing.get(root.toString(), { output: join(dir, 'relayer.out') }))
    await relayer.content.remove(root)
    expect(await relayer.content.hasAll(root)).toBe(false)
    await relayer.libp2p.peerStore.merge(holder.peerId, { multiaddrs: holder.libp2p.getMultiaddrs() })
    await relayer.libp2p.unhandle(REPLICATE_PROTOCOL)
    let relayed = 0
    await handleReplicationStreams(relayer.libp2p, async (message): Promise<ReplicationMessage> => {
      if (message.type !== 'holder-query') return { type: 'offer-reply', accepted: false, reason: 'relayer' }
      relayed++
      return await request(relayer.libp2p, holder.peerId, message)
    })

    const holders = await waitFor(async () => {
      const list = await publisher.replication.replicas(root)
      const caught = publisher.sharing.penalties.isPenalised(relayer.peerId.toString())
      return caught && list.some(h => h.peerId === holder.peerId.toString() && h.verified) ? list : undefined
    }, { timeoutMs: 60_000, intervalMs: 500, message: 'the real holder counted and the relayer caught' })
    expect(relayed).toBeGreaterThan(0)
    expect(holders.map(h => h.peerId)).not.toContain(relayer.peerId.toString())
  }, 120_000)

  it('3: a verified holder cannot raise the floor its publisher signed', async () => {
    const [publisher, , inflater] = nodes
    const root = await addFile(publisher, 'floored.bin', MiB, 2)
    expect(publisher.replication.stats(root).floor).toBe(2)
    await collect(inflater.sharing.get(root.toString(), { output: join(dir, 'inflater.out') }))
    // it proves possession honestly, and claims a floor of 64, with a cert of another key
    const key = await generateKeyPair('Ed25519')
    const forged = await signFloor(key, peerIdFromPrivateKey(key).toString(), root, 64)
    const stolenName = { ...forged, publisher: publisher.peerId.toString() }
    await inflater.libp2p.unhandle(REPLICATE_PROTOCOL)
    let answered = 0
    await handleReplicationStreams(inflater.libp2p, async (message, from): Promise<ReplicationMessage> => {
      if (message.type !== 'holder-query') return { type: 'offer-reply', accepted: false, reason: 'inflater' }
      const honest = await handleHolderQuery(message, from, { content: inflater.content, sharing: inflater.sharing, meta: inflater.replication.meta, traffic: { checkedBy () {} } as never, self: inflater.peerId })
      answered++
      return { ...honest, floor: 64, floorCert: answered % 2 === 0 ? forged : stolenName }
    })
    const offers = record(publisher, 'replication:offer')

    // two forced counts: the inflater is verified, its floor is not adopted either way
    for (let round = 0; round < 2; round++) {
      const before = answered
      await waitFor(async () => {
        await publisher.replication.checkNow()
        return answered > before
      }, { timeoutMs: 60_000, intervalMs: 250, message: 'a count that asked the inflater' })
    }
    const list = await publisher.replication.replicas(root)
    expect(list.find(h => h.peerId === inflater.peerId.toString())?.verified).toBe(true)
    expect(publisher.replication.stats(root).floor).toBe(2)
    // its floor of 2 is met (us and the inflater): at most a repair begun before the inflater
    // had its copy, never the recruiting a floor of 64 would start
    expect(offers.filter(o => o.root === root.toString()).length).toBeLessThanOrEqual(1)
  }, 150_000)
})
