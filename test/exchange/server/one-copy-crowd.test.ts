import { createHash, randomBytes } from 'node:crypto'
import { importBytes } from 'ipfs-unixfs-importer'
import { fixedSize } from 'ipfs-unixfs-importer/chunker'
import { describe, expect, it } from 'vitest'
import { InMemoryBlockStore } from '../../../src/content/blocks/memory-block-store.js'
import { ExchangeClient } from '../../../src/exchange/client/client.js'
import { ExchangeServer } from '../../../src/exchange/server/server.js'
import { fetchDag } from '../../../src/exchange/client/session.js'
import { introduce } from '../../helpers/bare-node.js'
import { useExchangeFixture } from '../../helpers/exchange-fixture.js'
import { timeoutSignal } from '../../../src/util/timeout-signal.js'
import { dagFileSha } from '../../helpers/dag-file.js'
import type { BlockStore } from '../../../src/content/blocks/block-store.js'
import type { Libp2p } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'

const { node, adopt } = useExchangeFixture()
const FILE = 8 * 1024 * 1024
const DOWNLOADERS = 5
/** Each block read on the publisher waits this long: a thin uplink, so the crowd has time to form */
const PUBLISHER_READ_MS = 25

/** A store that reads one block at a time, each taking `ms`: the publisher's thin uplink, shared by all its peers */
function slow (store: BlockStore, ms: number): BlockStore {
  let queue = Promise.resolve()
  return Object.assign(Object.create(store) as BlockStore, {
    get: async (cid: CID, o?: { signal?: AbortSignal }) => {
      const turn = queue.then(async () => { await new Promise(resolve => setTimeout(resolve, ms)) })
      queue = turn
      await turn
      return await store.get(cid, o)
    }
  })
}

async function * openList<T> (items: T[], signal: AbortSignal): AsyncGenerator<T> {
  yield * items
  await new Promise(resolve => signal.addEventListener('abort', resolve))
}

/** A peer as Kizuna runs it: an exchange server (spreading, probing with its own client) over what it has */
async function peer (store: BlockStore): Promise<{ node: Libp2p, client: ExchangeClient, server: ExchangeServer }> {
  const n = await node()
  const client = new ExchangeClient({ dialer: n })
  await client.start()
  adopt(client)
  const server = new ExchangeServer({ registrar: n, blockStore: store, probeClient: client })
  await server.start()
  adopt(server)
  return { node: n, client, server }
}

/**
 * Super-seeding over real loopback sockets: a publisher and a crowd of downloaders that fetch
 * from it and from each other. Each block leaves the publisher about once (two copies per block
 * and a 1 MiB probe of every peer made it 2-3x the file before).
 */
describe('a flash crowd on loopback', () => {
  it(`${DOWNLOADERS} downloaders at once: the publisher uploads at most 1.5x the file`, async () => {
    const data = randomBytes(FILE)
    const store = new InMemoryBlockStore()
    const entry = await importBytes(data, { put: async (cid: CID, bytes: Uint8Array) => { await store.put(cid, bytes); return cid } } as any,
      { cidVersion: 1, rawLeaves: true, chunker: fixedSize({ chunkSize: 256 * 1024 }) })
    const publisher = await peer(slow(store, PUBLISHER_READ_MS))
    const crowd = await Promise.all(Array.from({ length: DOWNLOADERS }, async () => {
      const received = new InMemoryBlockStore()
      return { received, ...await peer(received) }
    }))
    const everyone = [publisher, ...crowd]
    for (const a of everyone) for (const b of everyone) if (a !== b) await introduce(a.node, b.node)

    const done = new AbortController()
    const results = await Promise.all(crowd.map(async (me) => {
      let last = ''
      for await (const event of fetchDag(entry.cid, {
        blockStore: me.received,
        // as the sharing service's provider source: it stays open while the get runs, so
        // providers that referred us to the crowd are asked again rather than given up
        providers: openList(everyone.filter(p => p !== me).map(p => p.node.peerId), done.signal),
        client: me.client,
        signal: timeoutSignal(60_000)
      })) {
        last = event.type
        // as the sharing service does: a peer that served us is proven, no probe needed
        if (event.type === 'fetch:block') me.server.proven(event.from)
      }
      return { last, sha: await dagFileSha(me.received, entry.cid) }
    })).finally(() => { done.abort() })

    const want = createHash('sha256').update(data).digest('hex')
    expect(results).toEqual(crowd.map(() => ({ last: 'fetch:done', sha: want })))
    const publisherUpload = publisher.server.stats().bytesServed / FILE
    const crowdUpload = crowd.reduce((sum, p) => sum + p.server.stats().bytesServed, 0) / FILE
    console.log(`loopback crowd: publisher uploaded ${publisherUpload.toFixed(2)}x the file, the crowd ${crowdUpload.toFixed(2)}x; referred ${publisher.server.stats().spreadReplies}, after a wait ${publisher.server.stats().spreadSentAfterWait}`)
    expect(publisherUpload).toBeLessThanOrEqual(1.5)
    // nothing delivered twice on the whole: what everyone uploaded is about what the crowd needed
    expect(publisherUpload + crowdUpload).toBeLessThan(DOWNLOADERS * 1.25)
  }, 90_000)
})
