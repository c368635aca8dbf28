import { randomBytes } from 'node:crypto'
import * as dagPb from '@ipld/dag-pb'
import * as raw from 'multiformats/codecs/raw'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { describe, expect, it } from 'vitest'
import { InMemoryBlockStore } from '../../../src/content/blocks/memory-block-store.js'
import { EXCHANGE_PROTOCOL, encodeMessage } from '../../../src/exchange/wire/codec.js'
import { UploadSlots, type UploadSlotsInit } from '../../../src/exchange/server/upload-slots.js'
import { useExchangeFixture } from '../../helpers/exchange-fixture.js'
import { waitFor } from '../../helpers/wait.js'
import { timeoutSignal } from '../../../src/util/timeout-signal.js'
import type { ExchangeServer } from '../../../src/exchange/server/server.js'
import type { PeerChannel } from '../../../src/exchange/client/peer-channel.js'

const never = new AbortController().signal

/** A small dag-pb node, as a file's root is */
async function dagNode (store: InMemoryBlockStore): Promise<CID> {
  const bytes = dagPb.encode(dagPb.prepare({ Data: randomBytes(32), Links: [] }))
  const cid = CID.createV1(dagPb.code, await sha256.digest(bytes))
  await store.put(cid, bytes)
  return cid
}

async function rawBlock (size: number, store: InMemoryBlockStore): Promise<CID> {
  const bytes = randomBytes(size)
  const cid = CID.createV1(raw.code, await sha256.digest(bytes))
  await store.put(cid, bytes)
  return cid
}

describe('UploadSlots', () => {
  it('grants slots in order and passes a released one to the next waiter', async () => {
    const slots = new UploadSlots({ slots: 1 })
    const first = await slots.take(never)
    expect(first).toBeDefined()
    let second: (() => void) | undefined
    const waiting = slots.take(never).then(r => { second = r })
    expect(slots.waiting).toBe(1)
    first?.()
    await waiting
    expect(second).toBeDefined()
    expect(slots.inUse).toBe(1)
    second?.()
    expect(slots.inUse).toBe(0)
  })

  it('turns a request away after maxWaitMs, and rejects when its stream goes', async () => {
    const slots = new UploadSlots({ slots: 1, maxWaitMs: 50 })
    const held = await slots.take(never)
    expect(await slots.take(never)).toBeUndefined()
    expect(slots.turnedAway).toBe(1)
    const gone = new AbortController()
    const taking = slots.take(gone.signal)
    gone.abort()
    await expect(taking).rejects.toMatchObject({ code: 'ERR_ABORTED' })
    expect(slots.turnedAway).toBe(1)
    held?.()
    expect(slots.inUse).toBe(0)
  })

  it('holds a slot until the bytes are sent, and never past maxHoldMs', async () => {
    const slots = new UploadSlots({ slots: 1, maxHoldMs: 60_000 })
    let sent = false
    slots.holdUntil(() => sent, (await slots.take(never))!)
    expect(slots.inUse).toBe(1)
    sent = true
    await waitFor(() => slots.inUse === 0, { timeoutMs: 5_000, intervalMs: 5, message: 'the slot released once sent' })

    const short = new UploadSlots({ slots: 1, maxHoldMs: 100 })
    const started = performance.now()
    short.holdUntil(() => false, (await short.take(never))!)
    await waitFor(() => short.inUse === 0, { timeoutMs: 5_000, intervalMs: 5, message: 'the slot released after maxHoldMs' })
    expect(performance.now() - started).toBeGreaterThanOrEqual(90)
  })
})

describe('upload slots over real libp2p loopback', () => {
  const { provider, fetcher } = useExchangeFixture()

  /**
   * A server with one upload slot, taken by a peer that asks for 1 MiB blocks and never reads the
   * replies (its writes stop making progress); returns the server's channel to an honest peer,
   * and a small block for it to ask
   */
  async function slotTakenByStaller (uploadSlots: UploadSlotsInit): Promise<{ server: ExchangeServer, wanted: CID, root: CID, missing: CID, channel: PeerChannel }> {
    const store = new InMemoryBlockStore()
    const big = await Promise.all([1, 2, 3, 4].map(async () => await rawBlock(1024 * 1024, store)))
    const wanted = await rawBlock(64 * 1024, store)
    const root = await dagNode(store)
    const missing = await rawBlock(1024, new InMemoryBlockStore())
    const a = await provider(store, { uploadSlots: { slots: 1, ...uploadSlots } })
    const staller = await fetcher([a.node])
    const b = await fetcher([a.node])
    const stream = await staller.node.dialProtocol(a.node.peerId, EXCHANGE_PROTOCOL)
    stream.pause()
    big.forEach((cid, i) => stream.send(encodeMessage({ type: 'want', id: i + 1, cid })))
    // the staller's first block has the only slot, and its transport window is full
    await waitFor(() => (a.server.stats().peers.get(staller.node.peerId.toString())?.bytesInFlight ?? 0) > 0, { timeoutMs: 10_000, intervalMs: 5, message: 'the staller holding the upload slot' })
    return { server: a.server, wanted, root, missing, channel: await b.client.channel(a.node.peerId) }
  }

  it('a peer that stops reading keeps its upload slot only maxHoldMs: others are still served', async () => {
    const { wanted, channel } = await slotTakenByStaller({ maxHoldMs: 300, maxWaitMs: 60_000 })
    const result = await channel.want(wanted, { signal: timeoutSignal(30_000) })
    expect(result.type).toBe('block')
  })

  it('a request that waits maxWaitMs for a slot is answered BUSY', async () => {
    const { server, wanted, channel } = await slotTakenByStaller({ maxHoldMs: 60_000, maxWaitMs: 200 })
    const result = await channel.want(wanted, { signal: timeoutSignal(30_000) })
    expect(result.type).toBe('busy')
    expect(server.stats().uploadSlotBusy).toBeGreaterThanOrEqual(1)
  })

  it('the DAG\'s own nodes and DONT_HAVE replies do not wait for an upload slot', async () => {
    // the slot is held for a minute and a waiter would wait a minute: an answer within the test's
    // deadline came without one
    const { root, missing, channel } = await slotTakenByStaller({ maxHoldMs: 60_000, maxWaitMs: 60_000 })
    const signal = timeoutSignal(20_000)
    expect((await channel.want(root, { signal })).type).toBe('block')
    expect((await channel.want(missing, { signal })).type).toBe('dont-have')
  })
})
