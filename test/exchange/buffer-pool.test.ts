import { createHash, randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { importBytes } from 'ipfs-unixfs-importer'
import { fixedSize } from 'ipfs-unixfs-importer/chunker'
import { balanced } from 'ipfs-unixfs-importer/layout'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 as sha256Hasher } from 'multiformats/hashes/sha2'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { FsBlockStore } from '../../src/content/blocks/fs-block-store.js'
import { InMemoryBlockStore } from '../../src/content/blocks/memory-block-store.js'
import { FrameDecoder, encodeMessage } from '../../src/exchange/wire/codec.js'
import { fetchDag } from '../../src/exchange/client/session.js'
import { BlockBufferPool, blockBufferPool } from '../../src/util/block-buffer-pool.js'
import * as gcPacer from '../../src/util/gc-pacer.js'
import { useExchangeFixture } from '../helpers/exchange-fixture.js'
import { dagFileSha } from '../helpers/dag-file.js'
import type { BlockStore } from '../../src/content/blocks/block-store.js'
import type { Uint8ArrayList } from 'uint8arraylist'

const MiB = 1024 * 1024

function sha256 (bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex')
}

describe('BlockBufferPool', () => {
  it('recycles released buffers and ignores foreign and repeated releases', () => {
    const pool = new BlockBufferPool({ bufferSize: MiB, minSize: 1024, maxFree: 2 })
    const a = pool.take(MiB)
    expect(a.byteLength).toBe(MiB)
    expect(pool.owns(a)).toBe(true)
    pool.release(a.subarray(10, 20))
    expect(pool.owns(a)).toBe(false)
    expect(pool.freeCount).toBe(1)
    pool.release(a)
    expect(pool.freeCount).toBe(1)
    pool.release(new Uint8Array(MiB))
    expect(pool.freeCount).toBe(1)
    const b = pool.take(5000)
    expect(b.byteLength).toBe(5000)
    expect(b.buffer).toBe(a.buffer)
    expect(pool.reused).toBe(1)
    // outside the pooled sizes: fresh, and release ignores it
    const small = pool.take(100)
    const big = pool.take(MiB + 1)
    expect(pool.owns(small) || pool.owns(big)).toBe(false)
    pool.release(small)
    pool.release(big)
    expect(pool.freeCount).toBe(0)
  })

  it('keeps at most maxFree buffers and poisons released ones when asked', () => {
    const pool = new BlockBufferPool({ bufferSize: 64 * 1024, minSize: 1, maxFree: 2, poison: true })
    const taken = [pool.take(10), pool.take(10), pool.take(10)]
    taken[0].fill(7)
    for (const t of taken) pool.release(t)
    expect(pool.freeCount).toBe(2)
    expect(taken[0][0]).toBe(0xa5)
    pool.trim()
    expect(pool.freeCount).toBe(0)
  })
})

describe('gc pacer', () => {
  it('does nothing until enabled (the library default), then runs a scavenge per PACE_BYTES of transfer and at the start of a burst', () => {
    if (!gcPacer.gcPacingEnabled()) {
      const idle = gcPacer.scavenges
      gcPacer.noteTransferBytes(gcPacer.PACE_BYTES * 2)
      expect(gcPacer.scavenges).toBe(idle)
    }
    // this test file's process only (vitest forks a process per file)
    expect(gcPacer.enableGcPacing()).toBe(true)
    const before = gcPacer.scavenges
    // the first bytes after a pause collect at once
    gcPacer.noteTransferBytes(1)
    const first = gcPacer.scavenges - before
    for (let i = 0; i < 4; i++) gcPacer.noteTransferBytes(gcPacer.PACE_BYTES)
    expect(first).toBe(1)
    expect(gcPacer.scavenges - before).toBe(5)
  })
})

describe('FrameDecoder assembling blocks into supplied buffers', () => {
  it('reproduces blocks split at every kind of boundary', () => {
    const pool = new BlockBufferPool({ bufferSize: 256 * 1024, minSize: 1 })
    const blocks = [randomBytes(200_000), randomBytes(1), randomBytes(65_536), new Uint8Array(0), randomBytes(256 * 1024)]
    const wire = new Uint8Array(blocks.reduce((n, b, i) => n + (encodeMessage({ type: 'block', id: i + 1, bytes: b }) as Uint8ArrayList).byteLength, 0))
    let o = 0
    for (const [i, b] of blocks.entries()) {
      const frame = (encodeMessage({ type: 'block', id: i + 1, bytes: b }) as Uint8ArrayList).subarray()
      wire.set(frame, o)
      o += frame.byteLength
    }
    for (const step of [1, 7, 4096, 65_535, 300_000]) {
      const decoder = new FrameDecoder({ allocBlock: (size) => pool.take(size) })
      const got: Uint8Array[] = []
      for (let i = 0; i < wire.byteLength; i += step) {
        decoder.push(wire.subarray(i, i + step))
        for (let m = decoder.next(); m !== undefined; m = decoder.next()) {
          if (m.type !== 'block') throw new Error(m.type)
          // copy and give the buffer straight back: the next block must not disturb this one
          got.push(Uint8Array.from(m.bytes))
          pool.release(m.bytes)
        }
      }
      expect(got.map(sha256)).toEqual(blocks.map(sha256))
    }
    expect(pool.reused).toBeGreaterThan(0)
  })
})

/** A UnixFS file of random bytes in 1 MiB raw leaves (pooled size), under a shallow dag-pb tree */
async function makeContent (size: number, store: BlockStore): Promise<{ root: CID, sha: string }> {
  const data = randomBytes(size)
  const entry = await importBytes(data, {
    put: async (cid: CID, bytes: Uint8Array) => { await store.put(cid, bytes); return cid }
  } as any, {
    cidVersion: 1,
    rawLeaves: true,
    chunker: fixedSize({ chunkSize: MiB }),
    layout: balanced({ maxChildrenPerNode: 4 })
  })
  return { root: entry.cid, sha: sha256(data) }
}

describe('pooled buffers under concurrent fetches (use after release shows as corruption)', () => {
  const { provider, fetcher } = useExchangeFixture()
  let dir: string
  const wasPoisoned = blockBufferPool.poison

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kizuna-pool-'))
    blockBufferPool.poison = true
  })
  afterAll(async () => {
    blockBufferPool.poison = wasPoisoned
    await rm(dir, { recursive: true, force: true })
  })
  afterEach(() => { blockBufferPool.trim() })

  it('fetches many files at once from two providers and every byte matches', async () => {
    // providers on disk, so the server reads blocks into pooled buffers
    const sources = [new FsBlockStore(join(dir, 'src1')), new FsBlockStore(join(dir, 'src2'))]
    await Promise.all(sources.map(async s => s.open()))
    const files = await Promise.all(Array.from({ length: 6 }, async (_, i) => makeContent((3 + i) * MiB + i * 12_345, sources[0])))
    // the second provider holds a copy of everything
    for await (const e of sources[0].entries()) {
      await sources[1].put(e.cid, await sources[0].get(e.cid))
    }
    // no crowd spreading: these fetchers do not serve each other
    const a1 = await provider(sources[0], { spreading: { minPeers: 1000 } })
    const a2 = await provider(sources[1], { spreading: { minPeers: 1000 } })
    const reusedBefore = blockBufferPool.reused
    const fetchers = await Promise.all([0, 1, 2].map(async () => fetcher([a1.node, a2.node])))
    const jobs: Array<Promise<void>> = []
    for (const [fi, f] of fetchers.entries()) {
      for (const [i, file] of files.entries()) {
        // fetchers 0 and 1 write to disk, fetcher 2 into memory (which copies on put)
        const store: BlockStore = fi < 2 ? new FsBlockStore(join(dir, `dst-${fi}-${i}`)) : new InMemoryBlockStore()
        jobs.push((async () => {
          if (store instanceof FsBlockStore) await store.open()
          for await (const e of fetchDag(file.root, {
            blockStore: store,
            providers: [a1.node.peerId, a2.node.peerId],
            client: f.client,
            // small windows: more requests, more endgame duplicates, more reuse
            maxWindowBytesPerPeer: 3 * MiB,
            minWindowBytesPerPeer: MiB,
            totalWindowBytes: 4 * MiB,
            endgameBlocks: 4
          })) {
            void e
          }
          expect(await dagFileSha(store, file.root)).toBe(file.sha)
        })())
      }
    }
    await Promise.all(jobs)
    // the pool was really used on both paths
    expect(blockBufferPool.reused - reusedBefore).toBeGreaterThan(20)
    const served = a1.server.stats().blocksServed + a2.server.stats().blocksServed
    expect(served).toBeGreaterThanOrEqual(files.length * fetchers.length)
  }, 120_000)

  it('a block corrupted on the wire is never stored, and its buffer does not leak into others', async () => {
    const source = new InMemoryBlockStore()
    const file = await makeContent(4 * MiB, source)
    // a provider that flips a byte in one leaf
    let flipped = false
    const lying: BlockStore = {
      has: async (c, o) => source.has(c, o),
      size: async (c, o) => source.size(c, o),
      put: async (c, b, o) => source.put(c, b, o),
      delete: async (c, o) => source.delete(c, o),
      get: async (c, o) => {
        const bytes = await source.get(c, o)
        if (!flipped && c.code === raw.code) {
          flipped = true
          bytes[1000] ^= 1
        }
        return bytes
      }
    }
    const bad = await provider(lying)
    const good = await provider(source)
    const f = await fetcher([bad.node, good.node])
    await Promise.all([bad, good].map(async p => f.client.channel(p.node.peerId)))
    const store = new InMemoryBlockStore()
    const events = []
    // no endgame, so the bad copy cannot arrive as an ignored duplicate
    for await (const e of fetchDag(file.root, { blockStore: store, providers: [bad.node.peerId, good.node.peerId], client: f.client, endgameBlocks: 0, maxWindowBytesPerPeer: MiB, minWindowBytesPerPeer: MiB, totalWindowBytes: 2 * MiB })) {
      events.push(e)
    }
    expect(flipped).toBe(true)
    expect(events.some(e => e.type === 'fetch:provider-dropped' && e.reason === 'bad-block')).toBe(true)
    expect(await dagFileSha(store, file.root)).toBe(file.sha)
    // sanity: CIDs of the stored blocks hash right
    for await (const e of store.entries()) {
      const bytes = await store.get(e.cid)
      expect(CID.createV1(raw.code, await sha256Hasher.digest(bytes)).multihash.bytes).toEqual(e.cid.multihash.bytes)
    }
  }, 60_000)
})
