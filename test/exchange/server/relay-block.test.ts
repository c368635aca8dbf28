import { randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { InMemoryBlockStore } from '../../../src/content/blocks/memory-block-store.js'
import { blockKey } from '../../../src/content/index.js'
import { ExchangeClient } from '../../../src/exchange/client/client.js'
import type { WantResult } from '../../../src/exchange/client/peer-channel.js'
import { ExchangeServer } from '../../../src/exchange/server/server.js'
import { ArrivingBlocks, type Arrival } from '../../../src/exchange/relay/arriving-blocks.js'
import { MAX_PIECE_BYTES, PIECES_MIN_PEERS, RELAY_START_WITHIN_MS, pieceBytes, relayable, writeInPieces } from '../../../src/exchange/server/relay-block.js'
import { BLOCK_PIECE_BYTES } from '../../../src/exchange/wire/framed-stream.js'
import { EXCHANGE_PROTOCOL, MAX_REQUEST_FRAME_LENGTH, encodeBlockHeader } from '../../../src/exchange/wire/codec.js'
import { FramedStream } from '../../../src/exchange/wire/framed-stream.js'
import { introduce } from '../../helpers/bare-node.js'
import { useExchangeFixture } from '../../helpers/exchange-fixture.js'
import { waitFor } from '../../helpers/wait.js'
import type { Libp2p } from '@libp2p/interface'

const { node, fetcher, adopt } = useExchangeFixture()

async function rawBlock (size: number): Promise<{ cid: CID, bytes: Uint8Array }> {
  const bytes = new Uint8Array(randomBytes(size))
  return { cid: CID.createV1(raw.code, await sha256.digest(bytes)), bytes }
}

/** What the slow upstream sends for a WANT: its first half at once, the rest when `release()` is called */
type Ending = 'rest' | 'bad-rest' | 'hang-up'

/**
 * An upstream that answers every WANT with `bytes` in two pieces, the second held until the
 * test releases it (or replaced by bad bytes, or the stream reset): a block that is slow to come.
 */
async function slowUpstream (bytes: Uint8Array): Promise<{ node: Libp2p, release: (how: Ending) => void }> {
  const n = await node()
  let release: (how: Ending) => void = () => {}
  const released = new Promise<Ending>(resolve => { release = resolve })
  await n.handle(EXCHANGE_PROTOCOL, (stream) => {
    const framed: FramedStream = new FramedStream(stream, {
      maxFrameLength: MAX_REQUEST_FRAME_LENGTH,
      onMessage: (msg) => {
        if (msg.type !== 'want') return
        void (async () => {
          const half = bytes.byteLength >> 1
          await framed.beginFrame(encodeBlockHeader(msg.id, bytes.byteLength))
          await framed.writePiece(bytes.slice(0, half))
          const how = await released
          if (how === 'hang-up') {
            framed.abort(new Error('upstream gone'))
            return
          }
          const rest = bytes.slice(half)
          if (how === 'bad-rest') rest[rest.byteLength - 1] ^= 0xff
          framed.endFrame(rest)
        })().catch(() => {})
      },
      onClose: () => {}
    })
  })
  return { node: n, release }
}

/** A relay as Kizuna runs one: its client's arrivals shown to its server */
async function relayBetween (upstream: Libp2p, store = new InMemoryBlockStore(), relayMaxMs?: number): Promise<{ node: Libp2p, client: ExchangeClient, server: ExchangeServer, arrivals: ArrivingBlocks }> {
  const n = await node()
  await introduce(n, upstream)
  const arrivals = new ArrivingBlocks()
  const client = new ExchangeClient({ dialer: n }, { arrivals })
  await client.start()
  adopt(client)
  const server = new ExchangeServer({ registrar: n, blockStore: store, arrivals }, { relayMaxMs })
  await server.start()
  adopt(server)
  return { node: n, client, server, arrivals }
}

/**
 * A relay that has received half of a `size`-byte block from a slow upstream (the rest held back
 * until `upstream.release`), and a downstream peer connected to it
 */
async function halfArrived (size: number, store = new InMemoryBlockStore(), relayMaxMs?: number): Promise<{
  block: { cid: CID, bytes: Uint8Array }
  upstream: Awaited<ReturnType<typeof slowUpstream>>
  relay: Awaited<ReturnType<typeof relayBetween>>
  fromUpstream: Promise<WantResult>
  downstream: { node: Libp2p, client: ExchangeClient }
}> {
  const block = await rawBlock(size)
  const upstream = await slowUpstream(block.bytes)
  const relay = await relayBetween(upstream.node, store, relayMaxMs)
  const fromUpstream = relay.client.want(upstream.node.peerId, block.cid)
  await waitFor(() => (relay.arrivals.get(blockKey(block.cid))?.received ?? 0) > 0, { timeoutMs: 10_000 })
  const downstream = await fetcher([relay.node])
  return { block, upstream, relay, fromUpstream, downstream }
}

/** Until the relay is writing the block to `downstream` (its bytes reserved) */
async function untilRelaying (relay: { server: ExchangeServer }, downstream: { node: Libp2p }, size: number): Promise<void> {
  await waitFor(() => relay.server.stats().peers.get(downstream.node.peerId.toString())?.bytesInFlight === size, { timeoutMs: 10_000 })
}

describe('cut-through: a block passed on while it still arrives', () => {
  it('reaches the next peer before the relay has all of it, whole and intact', async () => {
    const { block, upstream, relay, fromUpstream, downstream } = await halfArrived(1024 * 1024)
    const channel = await downstream.client.channel(relay.node.peerId)
    const askedAt = performance.now()
    const fromRelay = downstream.client.want(relay.node.peerId, block.cid)
    // the first half reaches the downstream peer while the upstream still holds back the rest
    await waitFor(() => channel.lastReadAt > askedAt, { timeoutMs: 10_000 })
    expect(relay.arrivals.get(blockKey(block.cid))?.received).toBe(block.bytes.byteLength >> 1)

    upstream.release('rest')
    const got = await fromRelay
    expect(got.type).toBe('block')
    expect(Buffer.from((got as { bytes: Uint8Array }).bytes).equals(Buffer.from(block.bytes))).toBe(true)
    expect((await fromUpstream).type).toBe('block')
    expect(relay.server.stats().blocksRelayed).toBe(1)
    expect(relay.arrivals.size).toBe(0)
  }, 60_000)

  it('never completes a block that arrived bad: the next peer loses the channel, not its trust in the relay', async () => {
    const held = await rawBlock(64 * 1024)
    const store = new InMemoryBlockStore()
    await store.put(held.cid, held.bytes)
    const { block, upstream, relay, fromUpstream, downstream } = await halfArrived(512 * 1024, store)
    const fromRelay = downstream.client.want(relay.node.peerId, block.cid)
    await untilRelaying(relay, downstream, block.bytes.byteLength)
    upstream.release('bad-rest')
    await expect(fromRelay).rejects.toMatchObject({ code: 'ERR_CHANNEL_CLOSED' })
    // the relay's own fetch still gets the bytes to judge (its session hashes and blames the upstream)
    expect((await fromUpstream).type).toBe('block')
    expect(relay.server.stats().blocksRelayed).toBe(0)

    // the relay keeps serving: a block it holds goes out whole, to another peer and on a new channel
    const again = await fetcher([relay.node])
    expect((await again.client.want(relay.node.peerId, held.cid)).type).toBe('block')
    expect((await downstream.client.want(relay.node.peerId, held.cid)).type).toBe('block')
  }, 60_000)

  it('aborts the half-sent block when its source hangs up, and answers other requests after it', async () => {
    const store = new InMemoryBlockStore()
    const stored = await rawBlock(32 * 1024)
    await store.put(stored.cid, stored.bytes)
    const { block, upstream, relay, fromUpstream, downstream } = await halfArrived(1024 * 1024, store)
    const fromRelay = downstream.client.want(relay.node.peerId, block.cid)
    await untilRelaying(relay, downstream, block.bytes.byteLength)
    // asked while the relayed frame is half-written: its reply must not land inside that frame
    const meanwhile = downstream.client.want(relay.node.peerId, stored.cid)
    upstream.release('hang-up')
    await expect(fromUpstream).rejects.toMatchObject({ code: 'ERR_CHANNEL_CLOSED' })
    await expect(fromRelay).rejects.toMatchObject({ code: 'ERR_CHANNEL_CLOSED' })
    await expect(meanwhile).rejects.toMatchObject({ code: 'ERR_CHANNEL_CLOSED' })
    expect(relay.arrivals.size).toBe(0)

    // a fresh channel gets the stored block at once, and the lost one is answered DONT_HAVE
    const later = await downstream.client.want(relay.node.peerId, stored.cid)
    expect(later.type).toBe('block')
    expect((await downstream.client.want(relay.node.peerId, block.cid)).type).toBe('dont-have')
  }, 60_000)
})

describe('a block that stops arriving', () => {
  it('is given up after relayMaxMs: the half-sent frame is aborted and counted; the relay\'s own fetch of it is unharmed', async () => {
    const { block, upstream, relay, fromUpstream, downstream } = await halfArrived(512 * 1024, new InMemoryBlockStore(), 1_000)
    const started = performance.now()
    await expect(downstream.client.want(relay.node.peerId, block.cid)).rejects.toMatchObject({ code: 'ERR_CHANNEL_CLOSED' })
    // the relay's bound, not the upstream's request timeout (30 s), ended it
    expect(performance.now() - started).toBeLessThan(15_000)
    expect(relay.server.stats().relaysFailed).toBe(1)
    // the relay's own fetch of it is unharmed
    upstream.release('rest')
    expect((await fromUpstream).type).toBe('block')
  }, 60_000)
})

describe('relayable', () => {
  const arrival = (startedAt: number): Arrival => ({ key: 'k', size: 1, startedAt, received: 0, read: () => new Uint8Array(0), watch: () => () => {} })
  it.each([
    [0, true],
    [RELAY_START_WITHIN_MS, true],
    [RELAY_START_WITHIN_MS + 1, false],
    [60_000, false]
  ])('a block that began arriving %i ms ago: %s', (ago, expected) => {
    expect(relayable(arrival(1_000_000 - ago), 1_000_000)).toBe(expected)
  })
})

describe('writeInPieces', () => {
  it.each([
    [0, false],
    [1, false],
    [PIECES_MIN_PEERS - 1, false],
    [PIECES_MIN_PEERS, true],
    [16, true]
  ])('%i peers fetching from us: %s', (peers, expected) => {
    expect(writeInPieces(peers)).toBe(expected)
  })
})

describe('pieceBytes: about PIECE_TARGET_MS of our upload, in whole 64 KiB pieces', () => {
  it.each([
    [undefined, BLOCK_PIECE_BYTES],
    [0, BLOCK_PIECE_BYTES],
    [Number.NaN, BLOCK_PIECE_BYTES],
    // 5 Mbit/s and 10 Mbit/s: the smallest piece
    [625_000, BLOCK_PIECE_BYTES],
    [1_250_000, BLOCK_PIECE_BYTES],
    // 40 Mbit/s: 250 KB in 50 ms
    [5_000_000, 4 * BLOCK_PIECE_BYTES],
    // loopback speeds: a whole block at once
    [100_000_000, MAX_PIECE_BYTES]
  ])('%s bytes/s: %i bytes', (rate, expected) => {
    expect(pieceBytes(rate)).toBe(expected)
  })
})
