import { randomBytes } from 'node:crypto'
import { importBytes } from 'ipfs-unixfs-importer'
import { fixedSize } from 'ipfs-unixfs-importer/chunker'
import { describe, expect, it } from 'vitest'
import { InMemoryBlockStore } from '../../src/content/blocks/memory-block-store.js'
import { blockKey } from '../../src/content/index.js'
import { ExchangeServer } from '../../src/exchange/server/server.js'
import { fetchDag, type FetchEvent } from '../../src/exchange/client/session.js'
import { FetchingBlocks } from '../../src/exchange/fetching-blocks.js'
import type { BlockStore } from '../../src/content/blocks/block-store.js'
import type { CID } from 'multiformats/cid'
import { useExchangeFixture } from '../helpers/exchange-fixture.js'

const { node, provider, fetcher, adopt } = useExchangeFixture()

async function content (size: number, chunk: number): Promise<{ root: CID, store: InMemoryBlockStore, blocks: CID[] }> {
  const store = new InMemoryBlockStore()
  const blocks: CID[] = []
  const entry = await importBytes(randomBytes(size), {
    put: async (cid: CID, bytes: Uint8Array) => { blocks.push(cid); await store.put(cid, bytes); return cid }
  } as any, { cidVersion: 1, rawLeaves: true, chunker: fixedSize({ chunkSize: chunk }) })
  return { root: entry.cid, store, blocks }
}

/** Every call the server makes to its store */
function counting (store: BlockStore): { store: BlockStore, calls: () => number } {
  let calls = 0
  return {
    calls: () => calls,
    store: {
      has: async (cid, o) => { calls++; return await store.has(cid, o) },
      size: async (cid, o) => { calls++; return await store.size(cid, o) },
      get: async (cid, o) => { calls++; return await store.get(cid, o) },
      put: async (cid, b, o) => { await store.put(cid, b, o) },
      delete: async (cid, o) => { await store.delete(cid, o) }
    }
  }
}

describe('blocks a node is fetching itself', () => {
  it('are listed while the session waits for them, and each is taken back once stored', async () => {
    const { root, store, blocks } = await content(2 * 1024 * 1024, 256 * 1024)
    const p = await provider(store)
    const { client } = await fetcher([p.node])
    let most = 0
    const fetching = new class extends FetchingBlocks {
      add (key: string): void {
        super.add(key)
        most = Math.max(most, this.size)
      }
    }()
    const events: FetchEvent[] = []
    for await (const e of fetchDag(root, { blockStore: new InMemoryBlockStore(), providers: [p.node.peerId], client, fetching })) {
      events.push(e)
      // a block stored is no longer listed
      if (e.type === 'fetch:block') expect(fetching.has(blockKey(e.cid))).toBe(false)
    }
    expect(events[events.length - 1].type).toBe('fetch:done')
    // the root first (the only block known at the start), then all its leaves at once
    expect(most).toBe(blocks.length - 1)
    expect(fetching.size).toBe(0)
  }, 20_000)

  it('an aborted session takes back what it still waited for', async () => {
    const { root, store } = await content(2 * 1024 * 1024, 256 * 1024)
    const p = await provider(store)
    const { client } = await fetcher([p.node])
    const fetching = new FetchingBlocks()
    const controller = new AbortController()
    let code: string | undefined
    try {
      for await (const e of fetchDag(root, { blockStore: new InMemoryBlockStore(), providers: [p.node.peerId], client, fetching, signal: controller.signal })) {
        if (e.type === 'fetch:block' && fetching.size > 0) controller.abort()
      }
    } catch (err) {
      code = (err as { code?: string }).code
    }
    expect(code).toBe('ERR_ABORTED')
    expect(fetching.size).toBe(0)
  }, 20_000)

  it('a server answers DONT_HAVE for them without touching its store, and still serves the rest', async () => {
    const { store, blocks } = await content(1024 * 1024, 256 * 1024)
    const [held, ...rest] = blocks
    const missing = rest[0]
    const partial = new InMemoryBlockStore()
    await partial.put(held, await store.get(held))
    const { store: counted, calls } = counting(partial)
    const fetching = new FetchingBlocks()
    fetching.add(blockKey(missing))
    const n = await node()
    const server = new ExchangeServer({ registrar: n, blockStore: counted, fetching })
    await server.start()
    adopt(server)
    const { client } = await fetcher([n])

    for (let i = 0; i < 5; i++) {
      expect((await client.want(n.peerId, missing)).type).toBe('dont-have')
    }
    expect(calls()).toBe(0)
    expect(server.stats().dontHaveReplies).toBe(5)
    const served = await client.want(n.peerId, held)
    expect(served.type).toBe('block')
    expect(calls()).toBe(1)
    // once it is no longer listed, the store is asked again (and says it lacks it)
    fetching.delete(blockKey(missing))
    expect((await client.want(n.peerId, missing)).type).toBe('dont-have')
    expect(calls()).toBe(2)
  }, 20_000)
})
