import { createHash, randomBytes } from 'node:crypto'
import { importBytes } from 'ipfs-unixfs-importer'
import { fixedSize } from 'ipfs-unixfs-importer/chunker'
import { balanced } from 'ipfs-unixfs-importer/layout'
import * as raw from 'multiformats/codecs/raw'
import { describe, expect, it } from 'vitest'
import { InMemoryBlockStore } from '../../../src/content/blocks/memory-block-store.js'
import { ExchangeClient } from '../../../src/exchange/client/client.js'
import { ExchangeServer, type ExchangeServerInit } from '../../../src/exchange/server/server.js'
import { fetchDag, type FetchEvent, type FetchOptions } from '../../../src/exchange/client/session.js'
import { ENDGAME_LONG_STALL_MS } from '../../../src/exchange/client/session-options.js'
import { useExchangeFixture } from '../../helpers/exchange-fixture.js'
import { timeoutSignal } from '../../../src/util/timeout-signal.js'
import { dagFileSha } from '../../helpers/dag-file.js'
import type { BlockStore } from '../../../src/content/blocks/block-store.js'
import type { KizunaError } from '../../../src/errors.js'
import type { Libp2p, PeerId } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'

const CHUNK = 256 * 1024

interface Content { root: CID, store: InMemoryBlockStore, sha: string, blocks: CID[] }

async function makeContent (size: number): Promise<Content> {
  const data = randomBytes(size)
  const store = new InMemoryBlockStore()
  const blocks: CID[] = []
  const entry = await importBytes(data, {
    put: async (cid: CID, bytes: Uint8Array) => { blocks.push(cid); await store.put(cid, bytes); return cid }
  } as any, {
    cidVersion: 1,
    rawLeaves: true,
    chunker: fixedSize({ chunkSize: CHUNK }),
    // a small fan-out gives the DAG interior levels, so traversal below the root is exercised
    layout: balanced({ maxChildrenPerNode: 8 })
  })
  return { root: entry.cid, store, sha: sha256(data), blocks }
}

function sha256 (bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex')
}

/** A store that answers every read only after `ms` (or when the read is aborted) */
function delayed (store: BlockStore, ms: number): BlockStore {
  return {
    has: async (cid, o) => store.has(cid, o),
    size: async (cid, o) => store.size(cid, o),
    put: async (cid, b, o) => { await store.put(cid, b, o) },
    delete: async (cid, o) => { await store.delete(cid, o) },
    get: async (cid, o) => {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(resolve, ms)
        o?.signal?.addEventListener('abort', () => { clearTimeout(timer); reject(new Error('aborted')) })
      })
      return store.get(cid, o)
    }
  }
}

/** A store that serves one read at a time, `ms` each: a slow disk behind a working link */
function serialised (store: BlockStore, ms: number): BlockStore {
  let tail = Promise.resolve()
  return {
    ...delayed(store, 0),
    get: async (cid, o) => {
      const turn = tail.then(async () => new Promise<void>(resolve => setTimeout(resolve, ms)))
      tail = turn
      await turn
      return store.get(cid, o)
    }
  }
}

const { node, provider, fetcher, adopt } = useExchangeFixture()

/** Opens the channels up front so every provider is usable from the first block on */
async function preconnect (client: ExchangeClient, peers: Libp2p[]): Promise<void> {
  await Promise.all(peers.map(async p => client.channel(p.peerId)))
}

async function collect (gen: AsyncGenerator<FetchEvent>, onEvent?: (e: FetchEvent) => Promise<void> | void): Promise<FetchEvent[]> {
  const events: FetchEvent[] = []
  for await (const e of gen) {
    events.push(e)
    await onEvent?.(e)
  }
  return events
}

function done (events: FetchEvent[]): Extract<FetchEvent, { type: 'fetch:done' }> {
  const last = events[events.length - 1]
  expect(last.type).toBe('fetch:done')
  return last as Extract<FetchEvent, { type: 'fetch:done' }>
}

async function expectFetchError (p: Promise<unknown>, code: string): Promise<KizunaError> {
  try {
    await p
  } catch (err) {
    expect((err as KizunaError).code, (err as Error).message).toBe(code)
    return err as KizunaError
  }
  throw new Error(`expected ${code}`)
}

/** An endless provider source that never names anyone, like a DHT query that finds nothing */
async function * silence (signal: AbortSignal): AsyncGenerator<PeerId> {
  await new Promise(resolve => signal.addEventListener('abort', resolve))
}

const small: Partial<FetchOptions> = {
  // small windows spread a few-MiB file over several providers, as a large file would be
  maxWindowBytesPerPeer: 1024 * 1024,
  minWindowBytesPerPeer: 512 * 1024,
  totalWindowBytes: 2 * 1024 * 1024
}

describe('fetchDag over real libp2p loopback', () => {
  it('fetches a multi-MiB file from one provider and reproduces it exactly', async () => {
    const content = await makeContent(6 * 1024 * 1024 + 12345)
    const a = await provider(content.store)
    const served: number[] = []
    a.server.addEventListener('block:served', (e) => { served.push(e.detail.bytes) })
    const b = await fetcher([a.node])
    const store = new InMemoryBlockStore()

    const events = await collect(fetchDag(content.root, { blockStore: store, providers: [a.node.peerId], client: b.client }))

    const d = done(events)
    expect(d.blocksFetched).toBe(content.blocks.length)
    expect(d.blocksLocal).toBe(0)
    expect(await dagFileSha(store, content.root)).toBe(content.sha)
    expect(events.filter(e => e.type === 'fetch:block')).toHaveLength(content.blocks.length)
    expect(events[0]).toMatchObject({ type: 'fetch:provider-added' })
    expect(events.some(e => e.type === 'fetch:progress')).toBe(true)
    const stats = a.server.stats()
    expect(stats.blocksServed).toBe(content.blocks.length)
    expect(stats.peers.get(b.node.peerId.toString())?.bytesServed).toBe(stats.bytesServed)
    expect(served.reduce((x, y) => x + y, 0)).toBe(stats.bytesServed)
    // the whole fetch used one stream
    const conns = b.node.getConnections(a.node.peerId)
    expect(conns.flatMap(c => c.streams).filter(s => s.protocol === b.client.protocol)).toHaveLength(1)
  })

  it('uses two providers at once', async () => {
    const content = await makeContent(8 * 1024 * 1024)
    const a1 = await provider(content.store)
    const a2 = await provider(content.store)
    const b = await fetcher([a1.node, a2.node])
    await preconnect(b.client, [a1.node, a2.node])
    const store = new InMemoryBlockStore()

    const events = await collect(fetchDag(content.root, { ...small, blockStore: store, providers: [a1.node.peerId, a2.node.peerId], client: b.client }))

    expect(await dagFileSha(store, content.root)).toBe(content.sha)
    expect(a1.server.stats().bytesServed).toBeGreaterThan(0)
    expect(a2.server.stats().bytesServed).toBeGreaterThan(0)
    expect(done(events).providers).toHaveLength(2)
  })

  it('finishes from the other provider when one stops mid-download', async () => {
    const content = await makeContent(8 * 1024 * 1024)
    const a1 = await provider(content.store)
    const a2 = await provider(content.store)
    const b = await fetcher([a1.node, a2.node])
    await preconnect(b.client, [a1.node, a2.node])
    const store = new InMemoryBlockStore()
    let stopped = false

    const events = await collect(fetchDag(content.root, { ...small, blockStore: store, providers: [a1.node.peerId, a2.node.peerId], client: b.client }), async (e) => {
      if (!stopped && e.type === 'fetch:block' && e.from.equals(a1.node.peerId)) {
        stopped = true
        await a1.node.stop()
      }
    })

    expect(stopped).toBe(true)
    expect(await dagFileSha(store, content.root)).toBe(content.sha)
    const dropped = events.find(e => e.type === 'fetch:provider-dropped')
    expect(dropped).toMatchObject({ reason: 'disconnected' })
    expect((dropped as { peer: PeerId }).peer.equals(a1.node.peerId)).toBe(true)
    expect(a1.server.stats().blocksServed).toBeLessThan(content.blocks.length)
  })

  it('gives the faster provider more of the work, and endgame does not wait for the slow one', async () => {
    const content = await makeContent(8 * 1024 * 1024)
    // silent this long: past the stall rule for blocks before the file's tail
    const slowDelayMs = 2 * ENDGAME_LONG_STALL_MS
    const fast = await provider(content.store)
    const slow = await provider(delayed(content.store, slowDelayMs))
    const b = await fetcher([fast.node, slow.node])
    await preconnect(b.client, [fast.node, slow.node])
    const store = new InMemoryBlockStore()

    const events = await collect(fetchDag(content.root, { ...small, blockStore: store, providers: [slow.node.peerId, fast.node.peerId], client: b.client }))

    expect(await dagFileSha(store, content.root)).toBe(content.sha)
    // the slow provider's outstanding blocks were re-requested from the fast one in endgame
    expect(done(events).durationMs).toBeLessThan(slowDelayMs * 0.8)
    expect(fast.server.stats().blocksServed).toBe(content.blocks.length)
  })

  it('in endgame, blocks still coming from a provider that keeps delivering are not asked of a second one', async () => {
    const content = await makeContent(4 * 1024 * 1024)
    // both deliver steadily, one block per 20 ms: each holds a deep queue when the last blocks are asked
    const a = await provider(serialised(content.store, 20))
    const b = await provider(serialised(content.store, 20))
    const f = await fetcher([a.node, b.node])
    await preconnect(f.client, [a.node, b.node])
    const store = new InMemoryBlockStore()

    const events = await collect(fetchDag(content.root, { blockStore: store, providers: [a.node.peerId, b.node.peerId], client: f.client }))

    expect(await dagFileSha(store, content.root)).toBe(content.sha)
    // every block left a provider once (before, the last ones were asked of both: 26 sent for 19)
    expect(a.server.stats().blocksServed + b.server.stats().blocksServed).toBe(content.blocks.length)
    expect(done(events).duplicateBlocks).toBe(0)
  })

  it('does not time out requests queued behind others while replies keep coming', async () => {
    const content = await makeContent(4 * 1024 * 1024)
    const a = await provider(serialised(content.store, 100))
    const b = await fetcher([a.node])
    const store = new InMemoryBlockStore()

    // ~17 blocks requested at once, answered one per 100 ms: the last waits ~1.7 s, 2x the timeout
    const events = await collect(fetchDag(content.root, { blockStore: store, providers: [a.node.peerId], client: b.client, requestTimeoutMs: 800, maxTimeoutsPerPeer: 1 }))

    expect(events.filter(e => e.type === 'fetch:provider-dropped')).toEqual([])
    expect(await dagFileSha(store, content.root)).toBe(content.sha)
  })

  it('resumes: blocks already stored are walked locally and never requested', async () => {
    const content = await makeContent(4 * 1024 * 1024)
    const a = await provider(content.store)
    const b = await fetcher([a.node])
    const store = new InMemoryBlockStore()
    // the root, interior nodes and every other leaf are already here
    const present = content.blocks.filter((cid, i) => cid.code !== raw.code || i % 2 === 0)
    for (const cid of present) {
      await store.put(cid, await content.store.get(cid))
    }
    expect(present).toContainEqual(content.root)
    const requested: string[] = []
    a.server.addEventListener('block:served', (e) => { requested.push(e.detail.cid.toString()) })

    const events = await collect(fetchDag(content.root, { blockStore: store, providers: [a.node.peerId], client: b.client }))

    const d = done(events)
    expect(d.blocksLocal).toBe(present.length)
    expect(d.blocksFetched).toBe(content.blocks.length - present.length)
    const presentSet = new Set(present.map(c => c.toString()))
    expect(requested.filter(c => presentSet.has(c))).toEqual([])
    expect(a.server.stats().blocksServed + a.server.stats().dontHaveReplies).toBe(content.blocks.length - present.length)
    expect(await dagFileSha(store, content.root)).toBe(content.sha)

    // fully present: nothing is fetched, not even a provider is needed
    const again = await collect(fetchDag(content.root, { blockStore: store, providers: [], client: b.client }))
    expect(done(again)).toMatchObject({ blocksFetched: 0, blocksLocal: content.blocks.length })
  })

  it('answers HAVE_QUERY', async () => {
    const content = await makeContent(1024 * 1024)
    const other = await makeContent(1000)
    const a = await provider(content.store)
    const n = await node()
    const precise = new ExchangeServer({ registrar: n, blockStore: content.store, hasContent: async () => ({ has: 'full', count: content.blocks.length }) })
    await precise.start()
    adopt(precise)
    const b = await fetcher([a.node, n])

    expect(await b.client.queryHave(a.node.peerId, content.root)).toEqual({ has: 'partial', count: undefined })
    expect(await b.client.queryHave(a.node.peerId, other.root)).toMatchObject({ has: 'none' })
    expect(await b.client.queryHave(n.peerId, content.root)).toEqual({ has: 'full', count: content.blocks.length })
  })

  it('fails with ERR_NO_PROVIDERS when no provider turns up in time', async () => {
    const content = await makeContent(1000)
    const b = await fetcher([])
    await expectFetchError(collect(fetchDag(content.root, { blockStore: new InMemoryBlockStore(), providers: [], client: b.client })), 'ERR_NO_PROVIDERS')

    const stop = new AbortController()
    const started = Date.now()
    await expectFetchError(collect(fetchDag(content.root, { blockStore: new InMemoryBlockStore(), providers: silence(stop.signal), client: b.client, providerTimeoutMs: 300 })), 'ERR_NO_PROVIDERS')
    stop.abort()
    expect(Date.now() - started).toBeGreaterThanOrEqual(250)
  })

  it('fails with ERR_FETCH_FAILED listing what is missing when providers lack blocks', async () => {
    const content = await makeContent(2 * 1024 * 1024)
    const partial = new InMemoryBlockStore()
    const leaves = content.blocks.filter(c => c.code === raw.code)
    const withheld = new Set([leaves[1].toString(), leaves[5].toString()])
    for (const cid of content.blocks) {
      if (!withheld.has(cid.toString())) {
        await partial.put(cid, await content.store.get(cid))
      }
    }
    const a = await provider(partial)
    const b = await fetcher([a.node])
    const store = new InMemoryBlockStore()
    const err = await expectFetchError(collect(fetchDag(content.root, { blockStore: store, providers: [a.node.peerId], client: b.client })), 'ERR_FETCH_FAILED')
    expect((err as unknown as { missing: CID[] }).missing.map(c => c.toString()).sort()).toEqual([...withheld].sort())
    // everything else did arrive
    expect(store.count).toBe(content.blocks.length - withheld.size)
  })

  it('asks a provider again once it referred every queued block to the crowd (nothing else wakes the session)', async () => {
    const content = await makeContent(2 * 1024 * 1024)
    // a crowd of two with one copy per block and a short patience: the second fetcher is referred
    // for every block the first got, and given each after the wait when it asks again
    const a = await provider(content.store, { spreading: { minPeers: 2, copies: 1, patienceMs: 300, extraShare: 1, firstBlocks: 0, provenOnly: false } })
    const first = await fetcher([a.node])
    await collect(fetchDag(content.root, { blockStore: new InMemoryBlockStore(), providers: [a.node.peerId], client: first.client }))
    const second = await fetcher([a.node])
    const open = new AbortController()
    async function * stillSearching (): AsyncGenerator<PeerId> {
      yield a.node.peerId
      await new Promise(resolve => open.signal.addEventListener('abort', resolve))
    }
    const store = new InMemoryBlockStore()
    try {
      const events = await collect(fetchDag(content.root, { blockStore: store, providers: stillSearching(), client: second.client, signal: timeoutSignal(20_000) }))
      expect(done(events).blocksFetched).toBe(content.blocks.length)
    } finally {
      open.abort()
    }
    expect(await dagFileSha(store, content.root)).toBe(content.sha)
    expect(a.server.stats().spreadReplies).toBeGreaterThan(0)
  }, 40_000)

  it('stops cleanly when the caller aborts', async () => {
    const content = await makeContent(4 * 1024 * 1024)
    const a = await provider(content.store)
    const b = await fetcher([a.node])
    const controller = new AbortController()
    const err = await expectFetchError(collect(fetchDag(content.root, { blockStore: new InMemoryBlockStore(), providers: [a.node.peerId], client: b.client, signal: controller.signal }), (e) => {
      if (e.type === 'fetch:block') {
        controller.abort()
      }
    }), 'ERR_ABORTED')
    expect(err).toBeDefined()
    // the shared channel survives for the next fetch
    const events = await collect(fetchDag(content.root, { blockStore: new InMemoryBlockStore(), providers: [a.node.peerId], client: b.client }))
    expect(done(events).blocksFetched).toBe(content.blocks.length)
  })
})
