import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { MemoryDatastore } from 'datastore-core/memory'
import { LevelDatastore } from 'datastore-level'
import { Key } from 'interface-datastore'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { describe, expect, it } from 'vitest'
import { blockKey } from '../../../src/content/blocks/block-key.js'
import { ContentIndex } from '../../../src/content/roots/content-index.js'
import { RwLock } from '../../../src/content/roots/rw-lock.js'
import type { BlockRef, ContentRecord } from '../../../src/content/roots/content-index.js'

async function cidOf (text: string): Promise<CID> {
  return CID.createV1(raw.code, await sha256.digest(new TextEncoder().encode(text)))
}

function record (cid: CID, kind: ContentRecord['kind'] = 'pinned'): ContentRecord {
  return { cid, kind, size: 10, blocks: 1, blockBytes: 10, name: 'x', addedAt: 1000, lastAccess: 1000 }
}

describe('ContentIndex', () => {
  it('stores, lists, updates and deletes records under /kizuna/content/', async () => {
    const datastore = new MemoryDatastore()
    const index = new ContentIndex({ datastore })
    const a = await cidOf('a')
    const b = await cidOf('b')
    const blocksA: BlockRef[] = [{ cid: a, size: 1 }]
    await index.put(record(a), blocksA)
    await index.put(record(b, 'cached'), [{ cid: b, size: 1 }, { cid: a, size: 1 }])

    expect((await index.get(a))?.cid.equals(a)).toBe(true)
    expect(await index.get(await cidOf('nope'))).toBeUndefined()
    expect(await index.has(b)).toBe(true)

    const listed = []
    for await (const r of index.list()) {
      listed.push(r.cid.toString())
    }
    expect(listed.sort()).toEqual([a.toString(), b.toString()].sort())

    const keys = []
    for await (const key of datastore.queryKeys({})) {
      keys.push(key.toString())
    }
    expect(keys.every(k => k.startsWith('/kizuna/content/'))).toBe(true)

    expect((await index.blocks(b))?.map(r => r.cid.toString())).toEqual([b.toString(), a.toString()])

    const touched = await index.touch(a, { at: 5000 })
    expect(touched?.lastAccess).toBe(5000)
    expect((await index.get(a))?.lastAccess).toBe(5000)
    expect((await index.update(b, { kind: 'pinned' }))?.kind).toBe('pinned')

    expect(await index.delete(a)).toBe(true)
    expect(await index.delete(a)).toBe(false)
    expect(await index.get(a)).toBeUndefined()
    expect(await index.blocks(a)).toBeUndefined()
    expect(await index.touch(a)).toBeUndefined()
  })

  it('unions block lists of other roots, tracking whether a pinned root needs each block', async () => {
    const index = new ContentIndex({ datastore: new MemoryDatastore() })
    const [r1, r2, r3, x, y, z] = await Promise.all(['r1', 'r2', 'r3', 'x', 'y', 'z'].map(cidOf))
    await index.put(record(r1, 'pinned'), [{ cid: x, size: 1 }, { cid: y, size: 2 }])
    await index.put(record(r2, 'cached'), [{ cid: y, size: 2 }, { cid: z, size: 3 }])
    await index.put(record(r3, 'cached'), [{ cid: z, size: 3 }])

    const all = await index.referencedBlocks()
    expect(all.get(blockKey(x))).toEqual({ size: 1, pinned: true })
    expect(all.get(blockKey(y))).toEqual({ size: 2, pinned: true })
    expect(all.get(blockKey(z))).toEqual({ size: 3, pinned: false })

    const withoutR1 = await index.referencedBlocks({ except: [r1] })
    expect(withoutR1.has(blockKey(x))).toBe(false)
    expect(withoutR1.get(blockKey(y))?.pinned).toBe(false)
  })

  it('keys a CIDv0 and CIDv1 of the same root as one entry', async () => {
    const index = new ContentIndex({ datastore: new MemoryDatastore() })
    const digest = await sha256.digest(new Uint8Array([1]))
    const v0 = CID.createV0(digest)
    await index.put(record(v0), [{ cid: v0, size: 1 }])
    expect(await index.has(v0.toV1())).toBe(true)
    expect((await index.blocks(v0.toV1()))?.[0].cid.equals(v0)).toBe(true)
  })

  it('reports a corrupt record with ERR_INDEX_CORRUPT', async () => {
    const datastore = new MemoryDatastore()
    const index = new ContentIndex({ datastore })
    const a = await cidOf('a')
    await datastore.put(new Key(`/kizuna/content/roots/${a.toString()}`), new Uint8Array([1, 2, 3]))
    await expect(index.get(a)).rejects.toMatchObject({ code: 'ERR_INDEX_CORRUPT' })
  })
})

describe('ContentIndex record cache', () => {
  it('answers repeated reads from memory and follows every write', async () => {
    const datastore = new MemoryDatastore()
    let gets = 0
    const get = datastore.get.bind(datastore)
    datastore.get = async (key, options) => { gets++; return get(key, options) }
    const index = new ContentIndex({ datastore })
    const a = await cidOf('a')

    expect(await index.get(a)).toBeUndefined()
    expect(await index.has(a)).toBe(false)
    expect(gets).toBe(1) // absence is cached too
    await index.put(record(a), [{ cid: a, size: 10 }])
    expect((await index.get(a))?.kind).toBe('pinned')
    await index.update(a, { kind: 'cached' })
    expect((await index.get(a))?.kind).toBe('cached')
    await index.touch(a, { at: 5000 })
    expect((await index.get(a))?.lastAccess).toBe(5000)
    const reads = gets
    for (let i = 0; i < 10; i++) await index.get(a.toV1())
    expect(gets).toBe(reads)
    // a caller changing what it got changes nothing in the index
    const got = await index.get(a)
    got!.kind = 'pinned'
    expect((await index.get(a))?.kind).toBe('cached')
    expect(await index.delete(a)).toBe(true)
    expect(await index.get(a)).toBeUndefined()
    expect(await index.has(a)).toBe(false)
  })

  it('a read that overlaps a write does not cache what it read before the write', async () => {
    const datastore = new MemoryDatastore()
    const index = new ContentIndex({ datastore })
    const a = await cidOf('a')
    const get = datastore.get.bind(datastore)
    let releaseRead!: () => void
    const readHeld = new Promise<void>(resolve => { releaseRead = resolve })
    let reading!: () => void
    const readStarted = new Promise<void>(resolve => { reading = resolve })
    datastore.get = async (key, options) => {
      // the value as of now (absent), returned only after the put below has committed
      const outcome = await Promise.resolve().then(() => get(key, options)).then(value => ({ value }), (error: unknown) => ({ error }))
      reading()
      await readHeld
      if ('error' in outcome) throw outcome.error
      return outcome.value
    }
    const staleRead = index.get(a)
    await readStarted
    datastore.get = get
    await index.put(record(a), [{ cid: a, size: 10 }])
    releaseRead()
    expect(await staleRead).toBeUndefined() // that read began before the put
    expect((await index.get(a))?.kind).toBe('pinned') // and did not poison the cache
  })
})

describe('ContentIndex on datastore-level (what the node uses)', () => {
  it('round-trips records and block lists, and lists by prefix only', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'kizuna-level-'))
    const datastore = new LevelDatastore(dir)
    await datastore.open()
    try {
      await datastore.put(new Key('/kizuna/contentious/other'), new Uint8Array([1])) // a neighbour prefix
      await datastore.put(new Key('/peers/x'), new Uint8Array([1]))
      const index = new ContentIndex({ datastore })
      const [a, b, x] = await Promise.all(['a', 'b', 'x'].map(cidOf))
      await index.put(record(a), [{ cid: x, size: 70000 }, { cid: a, size: 3 }])
      await index.put(record(b, 'cached'), [{ cid: x, size: 70000 }])

      const listed = []
      for await (const r of index.list()) {
        listed.push(r.cid.toString())
      }
      expect(listed.sort()).toEqual([a.toString(), b.toString()].sort())
      expect((await index.blocks(a))?.map(r => [r.cid.toString(), r.size])).toEqual([[x.toString(), 70000], [a.toString(), 3]])
      expect((await index.referencedBlocks({ except: [a] })).get(blockKey(x))).toEqual({ size: 70000, pinned: false })
      expect(await index.delete(a)).toBe(true)
      expect(await index.blocks(a)).toBeUndefined()
    } finally {
      await datastore.close()
      await fs.rm(dir, { recursive: true, force: true })
    }
  })
})

describe('RwLock', () => {
  it('lets readers share, makes writers exclusive, and is FIFO', async () => {
    const lock = new RwLock()
    const log: string[] = []
    const r1 = await lock.shared()
    const r2 = await lock.shared()
    const w = lock.exclusive().then(release => { log.push('w'); return release })
    const r3 = lock.shared().then(release => { log.push('r3'); return release })
    await new Promise(resolve => setTimeout(resolve, 10))
    expect(log).toEqual([]) // writer waits for readers; r3 queues behind the writer
    r1()
    r2()
    const releaseW = await w
    expect(log).toEqual(['w'])
    releaseW()
    ;(await r3)()
    expect(log).toEqual(['w', 'r3'])
  })

  it('drops an aborted waiter and lets the others through', async () => {
    const lock = new RwLock()
    const r = await lock.shared()
    const controller = new AbortController()
    const w = lock.exclusive({ signal: controller.signal })
    const r2 = lock.shared()
    controller.abort()
    await expect(w).rejects.toThrow()
    ;(await r2)()
    r()
    ;(await lock.exclusive())()
  })
})
