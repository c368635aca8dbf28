import { createHash, randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { importBytes } from 'ipfs-unixfs-importer'
import { fixedSize } from 'ipfs-unixfs-importer/chunker'
import { balanced } from 'ipfs-unixfs-importer/layout'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { FsBlockStore } from '../../../src/content/blocks/fs-block-store.js'
import { InMemoryBlockStore } from '../../../src/content/blocks/memory-block-store.js'
import { ExchangeClient } from '../../../src/exchange/client/client.js'
import { ExchangeServer } from '../../../src/exchange/server/server.js'
import { fetchDag, type FetchEvent } from '../../../src/exchange/client/session.js'
import { plaintextBacklog } from '../../../src/exchange/server/served-stream.js'
import { blockBufferPool } from '../../../src/util/block-buffer-pool.js'
import { createBareNode, introduce, stopAll } from '../../helpers/bare-node.js'
import { dagFileSha } from '../../helpers/dag-file.js'
import type { Libp2p } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'

const MiB = 1024 * 1024

/**
 * Daemons prefer TLS, whose connection layer hands plaintext to a node:tls socket that keeps a
 * write queued behind the one in flight by reference. A server that returned a served block's
 * pooled buffer once only the stream's and the layer's own buffers were empty recycled it before
 * TLS had encrypted it: the root, written just behind the HAVE reply, went out as whatever the
 * buffer held next (poison here; another block in a crowd), and an honest server was dropped
 * for a bad block.
 */
describe('pooled server buffers over TLS', () => {
  const nodes: Libp2p[] = []
  const services: Array<{ stop: () => Promise<void> }> = []
  let dir: string
  const wasPoisoned = blockBufferPool.poison

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kizuna-pool-tls-'))
    // a buffer released while the transport still reads it then goes out as 0xa5 bytes
    blockBufferPool.poison = true
  })
  afterAll(async () => {
    blockBufferPool.poison = wasPoisoned
    await rm(dir, { recursive: true, force: true })
  })
  afterEach(async () => {
    await Promise.allSettled(services.splice(0).map(async s => s.stop()))
    await stopAll(nodes.splice(0))
    blockBufferPool.trim()
  })

  async function tlsNode (): Promise<Libp2p> {
    const n = await createBareNode({ encrypter: 'tls' })
    nodes.push(n)
    return n
  }

  it('a root asked right after a HAVE query, and every leaf, arrive intact from a server reading into pooled buffers', async () => {
    // on disk, so the server reads blocks into pooled buffers (getInto)
    const source = new FsBlockStore(join(dir, 'source'))
    await source.open()
    const data = randomBytes(6 * MiB + 4321)
    const entry = await importBytes(data, {
      put: async (cid: CID, bytes: Uint8Array) => { await source.put(cid, bytes); return cid }
    } as any, { cidVersion: 1, rawLeaves: true, chunker: fixedSize({ chunkSize: MiB }), layout: balanced({ maxChildrenPerNode: 4 }) })
    const root = entry.cid

    const publisher = await tlsNode()
    // no crowd spreading: one downloader is served everything
    const server = new ExchangeServer({ registrar: publisher, blockStore: source }, { spreading: { minPeers: 1000 } })
    await server.start()
    services.push(server)

    const downloader = await tlsNode()
    await introduce(downloader, publisher)
    const client = new ExchangeClient({ dialer: downloader })
    await client.start()
    services.push(client)
    const channel = await client.channel(publisher.peerId)
    expect(channel.closed).toBe(false)
    expect(downloader.getConnections(publisher.peerId)[0]?.encryption).toBe('/tls/1.0.0')

    // what a get does: ask whether the peer holds the root, then fetch it, on the same stream
    const have = client.queryHave(publisher.peerId, root)
    const received = new InMemoryBlockStore()
    const events: FetchEvent[] = []
    const fetched = (async () => {
      for await (const event of fetchDag(root, { blockStore: received, providers: [publisher.peerId], client })) {
        events.push(event)
      }
    })()
    // a bare server knows only that it holds a dag-pb root, not the rest
    expect((await have).has).toBe('partial')
    await fetched.catch(() => {})
    // before the fix: the root came as 0xa5 bytes and the publisher was dropped for 'bad-block'
    expect(events.filter(e => e.type === 'fetch:provider-dropped').map(e => (e as { reason?: string }).reason)).toEqual([])
    await fetched
    expect(await dagFileSha(received, root)).toBe(createHash('sha256').update(data).digest('hex'))
    expect(server.stats().blocksServed).toBeGreaterThanOrEqual(9)
    // and the server did read into pooled buffers over TLS (the path under test is not bypassed)
    const served = publisher.getConnections(downloader.peerId)[0]
    expect(served.encryption).toBe('/tls/1.0.0')
    expect(plaintextBacklog(served)()).toBeTypeOf('number')
  }, 60_000)
})
