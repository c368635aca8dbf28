import { createHash, randomBytes } from 'node:crypto'
import { importBytes } from 'ipfs-unixfs-importer'
import { fixedSize } from 'ipfs-unixfs-importer/chunker'
import * as raw from 'multiformats/codecs/raw'
import { describe, expect, it } from 'vitest'
import { InMemoryBlockStore } from '../../../src/content/blocks/memory-block-store.js'
import { ExchangeClient } from '../../../src/exchange/client/client.js'
import { EXCHANGE_PROTOCOL, encodeMessage } from '../../../src/exchange/wire/codec.js'
import { ExchangeServer, type ExchangeServerInit } from '../../../src/exchange/server/server.js'
import { fetchDag, type DropReason, type FetchEvent, type FetchOptions } from '../../../src/exchange/client/session.js'
import { useExchangeFixture } from '../../helpers/exchange-fixture.js'
import { dagFileSha } from '../../helpers/dag-file.js'
import type { BlockStore } from '../../../src/content/blocks/block-store.js'
import type { Libp2p, PeerId, Stream } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'

interface Content { root: CID, store: InMemoryBlockStore, sha: string, blocks: CID[] }

async function makeContent (size: number, chunkSize = 256 * 1024): Promise<Content> {
  const data = randomBytes(size)
  const store = new InMemoryBlockStore()
  const blocks: CID[] = []
  const entry = await importBytes(data, {
    put: async (cid: CID, bytes: Uint8Array) => { blocks.push(cid); await store.put(cid, bytes); return cid }
  } as any, { cidVersion: 1, rawLeaves: true, chunker: fixedSize({ chunkSize }) })
  return { root: entry.cid, store, sha: createHash('sha256').update(data).digest('hex'), blocks }
}

/** A BlockStore that hands out leaves with one bit flipped: a lying provider */
function corrupting (store: BlockStore): BlockStore {
  return {
    has: async (cid, o) => store.has(cid, o),
    size: async (cid, o) => store.size(cid, o),
    put: async (cid, b, o) => { await store.put(cid, b, o) },
    delete: async (cid, o) => { await store.delete(cid, o) },
    get: async (cid, o) => {
      // copy: a store may hand out views of its own buffers
      const bytes = new Uint8Array(await store.get(cid, o))
      if (cid.code === raw.code) {
        bytes[bytes.length >> 1] ^= 0x01
      }
      return bytes
    }
  }
}

const { node, provider, fetcher } = useExchangeFixture()

async function collect (gen: AsyncGenerator<FetchEvent>, onEvent?: (e: FetchEvent) => void): Promise<FetchEvent[]> {
  const events: FetchEvent[] = []
  for await (const e of gen) {
    events.push(e)
    onEvent?.(e)
  }
  return events
}

/**
 * Names `bad` first and `good` only once a provider was dropped, so the bad one is certain to be
 * tried instead of racing the good one. Bounded: after 10 s `good` is named anyway and the
 * test's assertions fail rather than the test hanging.
 */
function badThenGood (bad: PeerId, good: PeerId): { providers: AsyncGenerator<PeerId>, onEvent: (e: FetchEvent) => void } {
  const dropped = Promise.withResolvers<void>()
  async function * providers (): AsyncGenerator<PeerId> {
    yield bad
    await Promise.race([dropped.promise, new Promise(resolve => setTimeout(resolve, 10_000).unref())])
    yield good
  }
  return {
    providers: providers(),
    onEvent: (e) => {
      if (e.type === 'fetch:provider-dropped') {
        dropped.resolve()
      }
    }
  }
}

function dropsOf (events: FetchEvent[]): Array<{ peer: string, reason: DropReason }> {
  return events.flatMap(e => e.type === 'fetch:provider-dropped' ? [{ peer: e.peer.toString(), reason: e.reason }] : [])
}

/** Resolves when the stream is closed or reset; fails the test after `ms` */
async function streamClosed (stream: Stream, ms = 10_000): Promise<void> {
  if (stream.status !== 'open') {
    return
  }
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => { reject(new Error(`stream still ${stream.status} after ${ms} ms`)) }, ms)
    stream.addEventListener('close', () => { clearTimeout(timer); resolve() }, { once: true })
  })
}

const spread: Partial<FetchOptions> = {
  maxWindowBytesPerPeer: 1024 * 1024,
  minWindowBytesPerPeer: 512 * 1024,
  totalWindowBytes: 2 * 1024 * 1024
}

describe('exchange against misbehaving peers', () => {
  it.each([true, false])('drops and penalises a provider sending corrupt blocks, completes from an honest one (verifyBeforePut %s)', async (verifyBeforePut) => {
    const content = await makeContent(6 * 1024 * 1024)
    const liar = await provider(corrupting(content.store))
    const honest = await provider(content.store)
    const b = await fetcher([liar.node, honest.node])
    const store = new InMemoryBlockStore()
    const penalties: Array<[PeerId, DropReason]> = []
    const order = badThenGood(liar.node.peerId, honest.node.peerId)

    const events = await collect(fetchDag(content.root, {
      ...spread,
      blockStore: store,
      providers: order.providers,
      client: b.client,
      verifyBeforePut,
      onPenalty: (peer, reason) => { penalties.push([peer, reason]) }
    }), order.onEvent)

    expect(await dagFileSha(store, content.root)).toBe(content.sha)
    expect(dropsOf(events)).toEqual([{ peer: liar.node.peerId.toString(), reason: 'bad-block' }])
    expect(penalties).toHaveLength(1)
    expect(penalties[0][0].equals(liar.node.peerId)).toBe(true)
    // the liar was asked for leaves (it served the root honestly), so it was really in play
    expect(liar.server.stats().blocksServed).toBeGreaterThan(0)
    expect(events.filter(e => e.type === 'fetch:block' && e.from.equals(liar.node.peerId)).every(e => e.type === 'fetch:block' && e.cid.code !== raw.code)).toBe(true)
  })

  it('drops a provider that answers with malformed frames, completes from an honest one', async () => {
    const content = await makeContent(3 * 1024 * 1024)
    const garbler = await node()
    await garbler.handle(EXCHANGE_PROTOCOL, (stream) => {
      stream.addEventListener('message', () => {
        try { stream.send(new Uint8Array([3, 99, 1, 2])) } catch {}
      })
    })
    const honest = await provider(content.store)
    const b = await fetcher([garbler, honest.node])
    const store = new InMemoryBlockStore()

    const order = badThenGood(garbler.peerId, honest.node.peerId)
    const events = await collect(fetchDag(content.root, { ...spread, blockStore: store, providers: order.providers, client: b.client }), order.onEvent)

    expect(await dagFileSha(store, content.root)).toBe(content.sha)
    expect(dropsOf(events)).toEqual([{ peer: garbler.peerId.toString(), reason: 'protocol-error' }])
  })

  it('drops a provider that replies to requests never made', async () => {
    const content = await makeContent(1024 * 1024)
    const stray = await node()
    await stray.handle(EXCHANGE_PROTOCOL, (stream) => {
      stream.addEventListener('message', () => {
        try { stream.send(encodeMessage({ type: 'dont-have', id: 1000 })) } catch {}
      })
    })
    const honest = await provider(content.store)
    const b = await fetcher([stray, honest.node])
    const store = new InMemoryBlockStore()

    const order = badThenGood(stray.peerId, honest.node.peerId)
    const events = await collect(fetchDag(content.root, { ...spread, blockStore: store, providers: order.providers, client: b.client }), order.onEvent)

    expect(await dagFileSha(store, content.root)).toBe(content.sha)
    expect(dropsOf(events)).toEqual([{ peer: stray.peerId.toString(), reason: 'protocol-error' }])
  })

  it('times out a provider that never answers and completes from another', async () => {
    const content = await makeContent(2 * 1024 * 1024)
    const mute = await node()
    await mute.handle(EXCHANGE_PROTOCOL, () => {})
    const honest = await provider(content.store)
    const b = await fetcher([mute, honest.node])
    const store = new InMemoryBlockStore()
    const order = badThenGood(mute.peerId, honest.node.peerId)
    const events = await collect(fetchDag(content.root, {
      blockStore: store, providers: order.providers, client: b.client, requestTimeoutMs: 1500, maxTimeoutsPerPeer: 1
    }), order.onEvent)

    expect(await dagFileSha(store, content.root)).toBe(content.sha)
    expect(dropsOf(events)).toEqual([{ peer: mute.peerId.toString(), reason: 'timeout' }])
  })

  it('redials a lone provider dropped for a stall, and completes from it', async () => {
    const content = await makeContent(2 * 1024 * 1024)
    // the first leaf read hangs until the provider has been dropped: a stall, not a lie
    const stalled = Promise.withResolvers<void>()
    let stalls = 1
    const stalling: BlockStore = {
      ...content.store,
      has: async (cid, o) => content.store.has(cid, o),
      size: async (cid, o) => content.store.size(cid, o),
      put: async (cid, b, o) => { await content.store.put(cid, b, o) },
      delete: async (cid, o) => { await content.store.delete(cid, o) },
      get: async (cid, o) => {
        if (cid.code === raw.code && stalls-- > 0) await stalled.promise
        return await content.store.get(cid, o)
      }
    }
    const slow = await provider(stalling)
    const b = await fetcher([slow.node])
    const store = new InMemoryBlockStore()
    const events = await collect(fetchDag(content.root, {
      blockStore: store, providers: [slow.node.peerId], client: b.client, requestTimeoutMs: 1500, maxTimeoutsPerPeer: 1
    }), e => { if (e.type === 'fetch:provider-dropped') stalled.resolve() })

    expect(await dagFileSha(store, content.root)).toBe(content.sha)
    expect(dropsOf(events)).toEqual([{ peer: slow.node.peerId.toString(), reason: 'timeout' }])
    expect(events.filter(e => e.type === 'fetch:provider-added').length).toBe(2)
  })

  it('keeps serving after malformed frames and oversized length claims on other streams', async () => {
    const content = await makeContent(2 * 1024 * 1024)
    const a = await provider(content.store)
    const b = await fetcher([a.node])
    // a good channel is open before the attacks and must survive them
    expect(await b.client.queryHave(a.node.peerId, content.root)).toMatchObject({ has: 'partial' })
    const goodChannel = b.client.openChannel(a.node.peerId)
    expect(goodChannel).toBeDefined()

    const attacks: Array<[string, Uint8Array | Array<Uint8Array>]> = [
      ['length claim of 4 GiB', new Uint8Array([0xff, 0xff, 0xff, 0xff, 0x0f])],
      ['length over the request limit', new Uint8Array([0x80, 0x80, 0x04])],
      ['unknown type', new Uint8Array([3, 99, 1, 1])],
      ['bad CID in WANT', new Uint8Array([5, 1, 1, 1, 0x55, 0x12])],
      ['a BLOCK from a client', encodeMessage({ type: 'block', id: 1, bytes: new Uint8Array(10) }).subarray()],
      ['non-minimal varint', new Uint8Array([0x82, 0x00])]
    ]
    for (const [name, bytes] of attacks) {
      const raw = await b.node.dialProtocol(a.node.peerId, EXCHANGE_PROTOCOL)
      raw.send(bytes as Uint8Array)
      await expect(streamClosed(raw), name).resolves.toBeUndefined()
    }
    // a frame cut short by the end of the stream
    const cut = await b.node.dialProtocol(a.node.peerId, EXCHANGE_PROTOCOL)
    cut.send(new Uint8Array([40, 1, 1]))
    await cut.close()
    await streamClosed(cut)

    expect(b.node.getConnections(a.node.peerId).length).toBeGreaterThan(0)
    const store = new InMemoryBlockStore()
    const events = await collect(fetchDag(content.root, { blockStore: store, providers: [a.node.peerId], client: b.client }))
    expect(events[events.length - 1].type).toBe('fetch:done')
    expect(await dagFileSha(store, content.root)).toBe(content.sha)
    expect(b.client.openChannel(a.node.peerId)).toBe(goodChannel)
  })

  it('aborts the stream of a peer that stops reading its replies', async () => {
    const content = await makeContent(2 * 1024 * 1024)
    const a = await provider(content.store, { serveTimeoutMs: 300 })
    const b = await fetcher([a.node])
    const leaves = content.blocks.filter(c => c.code === raw.code)
    const stream = await b.node.dialProtocol(a.node.peerId, EXCHANGE_PROTOCOL)
    // never read: the transport window fills and the server's writes stop making progress
    stream.pause()
    leaves.forEach((cid, i) => stream.send(encodeMessage({ type: 'want', id: i + 1, cid })))
    await streamClosed(stream)
    expect(a.server.stats().blocksServed).toBeLessThan(leaves.length)
    // and the server is fine for everyone else
    const events = await collect(fetchDag(content.root, { blockStore: new InMemoryBlockStore(), providers: [a.node.peerId], client: b.client }))
    expect(events[events.length - 1].type).toBe('fetch:done')
  })

  it('server limits answer BUSY; the client backs off and still completes', async () => {
    const content = await makeContent(4 * 1024 * 1024)
    const a = await provider(content.store, { maxRequestsPerPeer: 2, busyRetryAfterMs: 10 })
    const b = await fetcher([a.node])
    const store = new InMemoryBlockStore()

    const events = await collect(fetchDag(content.root, { blockStore: store, providers: [a.node.peerId], client: b.client }))

    expect(events[events.length - 1].type).toBe('fetch:done')
    expect(await dagFileSha(store, content.root)).toBe(content.sha)
    const stats = a.server.stats()
    expect(stats.busyReplies).toBeGreaterThan(0)
    expect(stats.blocksServed).toBe(content.blocks.length)
    expect(dropsOf(events)).toEqual([])
  })

  it('server byte limit answers BUSY too', async () => {
    const content = await makeContent(3 * 1024 * 1024)
    const a = await provider(content.store, { maxBytesInFlightPerPeer: 300 * 1024, busyRetryAfterMs: 5 })
    const b = await fetcher([a.node])
    const store = new InMemoryBlockStore()
    await collect(fetchDag(content.root, { blockStore: store, providers: [a.node.peerId], client: b.client }))
    expect(await dagFileSha(store, content.root)).toBe(content.sha)
    expect(a.server.stats().blocksServed).toBe(content.blocks.length)
  })

  it('notes when it last sent a block (announcements of fetched content wait while it serves)', async () => {
    const content = await makeContent(2 * 1024 * 1024)
    const a = await provider(content.store)
    const b = await fetcher([a.node])
    expect(a.server.lastServedAt).toBe(0)
    const before = Date.now()
    await collect(fetchDag(content.root, { blockStore: new InMemoryBlockStore(), providers: [a.node.peerId], client: b.client }))
    expect(a.server.lastServedAt).toBeGreaterThanOrEqual(before)
    expect(a.server.lastServedAt).toBeLessThanOrEqual(Date.now())
  })

  it('answers DONT_HAVE at once for unknown blocks', async () => {
    const content = await makeContent(1000)
    const other = await makeContent(1000)
    const a = await provider(content.store)
    const b = await fetcher([a.node])
    expect(await b.client.want(a.node.peerId, other.root)).toEqual({ type: 'dont-have' })
    const got = await b.client.want(a.node.peerId, content.root)
    expect(got.type).toBe('block')
    expect(a.server.stats().dontHaveReplies).toBe(1)
  })
})
