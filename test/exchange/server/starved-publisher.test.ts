import { createHash, randomBytes } from 'node:crypto'
import { importBytes } from 'ipfs-unixfs-importer'
import { fixedSize } from 'ipfs-unixfs-importer/chunker'
import { describe, expect, it } from 'vitest'
import { InMemoryBlockStore } from '../../../src/content/blocks/memory-block-store.js'
import { ExchangeClient } from '../../../src/exchange/client/client.js'
import { ExchangeServer } from '../../../src/exchange/server/server.js'
import { fetchDag, type FetchEvent } from '../../../src/exchange/client/session.js'
import { introduce } from '../../helpers/bare-node.js'
import { useExchangeFixture } from '../../helpers/exchange-fixture.js'
import { dagFileSha } from '../../helpers/dag-file.js'
import type { CID } from 'multiformats/cid'

const { node, fetcher, adopt } = useExchangeFixture()

/**
 * Issue 16, finding 4: peer ids that request every block each second and never serve must not
 * count as a crowd. Before, the publisher referred everyone to them and answered an honest
 * downloader "don't have" even for the root: its get failed after 30 s (316 ms without them).
 */
describe('a publisher among peers that only take', () => {
  it('serves an honest downloader in full while three leechers ask for every block every second', async () => {
    const data = randomBytes(8 * 1024 * 1024)
    const store = new InMemoryBlockStore()
    const blocks: CID[] = []
    const entry = await importBytes(data, {
      put: async (cid: CID, bytes: Uint8Array) => { blocks.push(cid); await store.put(cid, bytes); return cid }
    } as any, { cidVersion: 1, rawLeaves: true, chunker: fixedSize({ chunkSize: 256 * 1024 }) })

    // the publisher as Kizuna runs it: spreading on, asking peers back for blocks (probes)
    const publisherNode = await node()
    const probeClient = new ExchangeClient({ dialer: publisherNode })
    await probeClient.start()
    adopt(probeClient)
    const server = new ExchangeServer({ registrar: publisherNode, blockStore: store, probeClient })
    await server.start()
    adopt(server)

    // three leechers: real peers with an exchange client and no server at all
    const leechers = await Promise.all([0, 1, 2].map(async () => await fetcher([publisherNode])))
    const stop = new AbortController()
    const deadline = Date.now() + 60_000
    const leeching = leechers.map(async ({ client }) => {
      while (!stop.signal.aborted && Date.now() < deadline) {
        await Promise.allSettled(blocks.map(async cid => await client.want(publisherNode.peerId, cid, { signal: stop.signal })))
        await new Promise(resolve => setTimeout(resolve, 1000))
      }
    })
    try {
      // let them look like a crowd first
      while (server.stats().blocksServed < blocks.length * 3 && Date.now() < deadline) await new Promise(resolve => setTimeout(resolve, 50))

      const honest = await fetcher([publisherNode])
      await introduce(honest.node, publisherNode)
      const received = new InMemoryBlockStore()
      const events: FetchEvent[] = []
      const started = Date.now()
      for await (const event of fetchDag(entry.cid, {
        blockStore: received,
        providers: [publisherNode.peerId],
        client: honest.client,
        signal: AbortSignal.timeout(25_000)
      })) events.push(event)
      const tookMs = Date.now() - started

      expect(events[events.length - 1].type).toBe('fetch:done')
      expect(await dagFileSha(received, entry.cid)).toBe(createHash('sha256').update(data).digest('hex'))
      expect(events.filter(e => e.type === 'fetch:provider-dropped')).toEqual([])
      // nobody proved it serves: the publisher never referred anyone
      expect(server.stats().spreadReplies).toBe(0)
      expect(tookMs).toBeLessThan(25_000)
    } finally {
      stop.abort()
      await Promise.allSettled(leeching)
    }
  }, 90_000)
})
