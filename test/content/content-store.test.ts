import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import * as dagPb from '@ipld/dag-pb'
import { MemoryDatastore } from 'datastore-core/memory'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { blockKey } from '../../src/content/blocks/block-key.js'
import { ContentStore } from '../../src/content/content-store.js'
import { FsBlockStore } from '../../src/content/blocks/fs-block-store.js'
import { fsError } from '../../src/content/unixfs/fs-source.js'
import { CHUNK_SIZE } from '../../src/content/unixfs/layout.js'
import { InMemoryBlockStore } from '../../src/content/blocks/memory-block-store.js'
import { ContentIndex } from '../../src/content/roots/content-index.js'
import type { ImportDoneEvent, ImportEvent, ImportOptions } from '../../src/content/unixfs/importer.js'
import type { CID } from 'multiformats/cid'

const MiB = CHUNK_SIZE

let tmp: string
let blockStore: FsBlockStore
let index: ContentIndex
let store: ContentStore

beforeEach(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'kizuna-content-'))
  blockStore = new FsBlockStore(path.join(tmp, 'blocks'))
  await blockStore.open()
  index = new ContentIndex({ datastore: new MemoryDatastore() })
  store = new ContentStore({ blockStore, index })
})

afterEach(async () => {
  await fs.rm(tmp, { recursive: true, force: true })
})

async function add (source: string | Uint8Array, options: ImportOptions = {}): Promise<ImportDoneEvent> {
  let done: ImportDoneEvent | undefined
  for await (const event of store.add(source, options)) {
    if (event.type === 'import:done') {
      done = event
    }
  }
  if (done == null) {
    throw new Error('no import:done')
  }
  return done
}

async function storedKeys (): Promise<Set<string>> {
  const keys = new Set<string>()
  for await (const entry of blockStore.entries()) {
    keys.add(blockKey(entry.cid))
  }
  return keys
}

async function blocksOf (cid: CID): Promise<string[]> {
  return ((await index.blocks(cid)) ?? []).map(r => blockKey(r.cid))
}

async function exportsIdentically (cid: CID, bytes: Uint8Array): Promise<boolean> {
  const out = path.join(tmp, `check-${Math.random().toString(16).slice(2)}`)
  for await (const _ of store.export(cid, out)) {} // eslint-disable-line no-empty
  const ok = Buffer.compare(await fs.readFile(out), bytes) === 0
  await fs.rm(out)
  return ok
}

/** Two files sharing their first two 1 MiB chunks */
function overlapping (): { a: Uint8Array, b: Uint8Array } {
  const shared = randomBytes(2 * MiB)
  return {
    a: Buffer.concat([shared, randomBytes(MiB)]),
    b: Buffer.concat([shared, randomBytes(MiB / 2)])
  }
}

describe('ContentStore', () => {
  it('adds, lists, stats and reports usage', async () => {
    const bytes = randomBytes(2 * MiB + 7)
    const done = await add(bytes, { name: 'blob' })
    expect(done.record).toMatchObject({ kind: 'pinned', size: 2 * MiB + 7, blocks: 4, name: 'blob' })

    const list = await store.list()
    expect(list.map(r => r.cid.toString())).toEqual([done.cid.toString()])

    const stat = await store.stat(done.cid)
    expect(stat).toMatchObject({ complete: true, localBlocks: 4, localBytes: done.blockBytes, missingBlocks: 0 })
    expect(stat.record?.name).toBe('blob')

    expect(await store.usage()).toEqual({
      pinnedBytes: done.blockBytes,
      cachedBytes: 0,
      pinnedRoots: 1,
      cachedRoots: 0,
      storeBytes: done.blockBytes
    })
  })

  it('remove frees only blocks no other kept root uses', async () => {
    const { a, b } = overlapping()
    const doneA = await add(a)
    const doneB = await add(b)
    const bKeys = new Set(await blocksOf(doneB.cid))
    const onlyA = (await blocksOf(doneA.cid)).filter(k => !bKeys.has(k))
    expect(onlyA).toHaveLength(2) // A's root and its third chunk

    const before = await blockStore.totalBytes()
    const removed = await store.remove(doneA.cid)
    expect(removed.freedBlocks).toBe(2)
    expect(await blockStore.totalBytes()).toBe(before - removed.freedBytes)

    const left = await storedKeys()
    for (const key of onlyA) {
      expect(left.has(key)).toBe(false)
    }
    for (const key of bKeys) {
      expect(left.has(key)).toBe(true)
    }
    expect(await store.hasAll(doneB.cid)).toBe(true)
    expect(await exportsIdentically(doneB.cid, b)).toBe(true)
    expect(await store.get(doneA.cid)).toBeUndefined()

    await expect(store.remove(doneA.cid)).rejects.toMatchObject({ code: 'ERR_CONTENT_NOT_FOUND' })
    await store.remove(doneB.cid)
    expect(await storedKeys()).toEqual(new Set())
  })

  it('removing a directory keeps a file inside it that is also kept on its own', async () => {
    const dir = path.join(tmp, 'dir')
    await fs.mkdir(dir)
    const inner = randomBytes(MiB + 5)
    await fs.writeFile(path.join(dir, 'inner.bin'), inner)
    await fs.writeFile(path.join(dir, 'other.bin'), randomBytes(100))
    const doneDir = await add(dir)
    const doneFile = await add(inner)
    expect(doneDir.record.name).toBe('dir')

    await store.remove(doneDir.cid)
    expect(await store.hasAll(doneFile.cid)).toBe(true)
    expect(await exportsIdentically(doneFile.cid, inner)).toBe(true)
    expect(await storedKeys()).toEqual(new Set(await blocksOf(doneFile.cid)))
  })

  it('re-adding keeps pinned over cached and the original addedAt', async () => {
    const bytes = randomBytes(100)
    const first = await add(bytes, { kind: 'cached' })
    expect(first.record.kind).toBe('cached')
    const second = await add(bytes, { kind: 'pinned' })
    expect(second.record).toMatchObject({ kind: 'pinned', addedAt: first.record.addedAt })
    const third = await add(bytes, { kind: 'cached' })
    expect(third.record.kind).toBe('pinned')
    expect(await store.list()).toHaveLength(1)
    expect((await store.setKind(first.cid, 'cached')).kind).toBe('cached')
    await store.remove(first.cid)
    await expect(store.setKind(first.cid, 'pinned')).rejects.toMatchObject({ code: 'ERR_CONTENT_NOT_FOUND' })
  })

  it('usage counts shared blocks once and splits pinned from cached', async () => {
    const { a, b } = overlapping()
    const doneA = await add(a, { kind: 'pinned' })
    const doneB = await add(b, { kind: 'cached' })
    const aKeys = new Set(await blocksOf(doneA.cid))
    const bOnly = ((await index.blocks(doneB.cid)) ?? []).filter(r => !aKeys.has(blockKey(r.cid)))
    const usage = await store.usage()
    expect(usage.pinnedBytes).toBe(doneA.blockBytes)
    expect(usage.cachedBytes).toBe(bOnly.reduce((sum, r) => sum + r.size, 0))
    expect(usage.storeBytes).toBe(usage.pinnedBytes + usage.cachedBytes)
    expect(usage).toMatchObject({ pinnedRoots: 1, cachedRoots: 1 })
  })

  it('hasAll / missingBlocks report what a resumed download needs', async () => {
    const bytes = randomBytes(4 * MiB)
    const { cid } = await add(bytes)
    expect(await store.missingBlocks(cid)).toEqual([])

    const leaves = dagPb.decode(await blockStore.get(cid)).Links.map(l => l.Hash)
    await blockStore.delete(leaves[1])
    await blockStore.delete(leaves[3])
    expect(await store.hasAll(cid)).toBe(false)
    expect((await store.missingBlocks(cid)).map(c => c.toString())).toEqual([leaves[1], leaves[3]].map(c => c.toString()))
    expect(await store.stat(cid)).toMatchObject({ complete: false, localBlocks: 3, missingBlocks: 2 })

    await blockStore.delete(cid)
    expect((await store.missingBlocks(cid)).map(c => c.toString())).toEqual([cid.toString()])
  })

  it('record() keeps a DAG fetched by someone else, once complete', async () => {
    // build the DAG elsewhere, as a peer would have it
    const peerBlocks = new InMemoryBlockStore()
    const peer = new ContentStore({ blockStore: peerBlocks, index: new ContentIndex({ datastore: new MemoryDatastore() }) })
    const bytes = randomBytes(2 * MiB + 1)
    let root: CID | undefined
    for await (const event of peer.add(bytes)) {
      if (event.type === 'import:done') {
        root = event.cid
      }
    }
    if (root == null) {
      throw new Error('no root')
    }

    // "download": root first, then children as missingBlocks reveals them
    for (let missing = [root]; missing.length > 0; missing = await store.missingBlocks(root)) {
      await expect(store.record(root)).rejects.toMatchObject({ code: 'ERR_DAG_INCOMPLETE' })
      for (const cid of missing) {
        await blockStore.put(cid, await peerBlocks.get(cid))
      }
    }
    const record = await store.record(root, { name: 'fetched' })
    expect(record).toMatchObject({ kind: 'cached', size: 2 * MiB + 1, blocks: 4, name: 'fetched' })
    expect(await exportsIdentically(root, bytes)).toBe(true)
    expect((await store.get(root))?.lastAccess).toBeGreaterThanOrEqual(record.lastAccess)
  })
})

describe('record() of a directory', () => {
  it('computes the logical size as the sum of its files', async () => {
    const peerBlocks = new InMemoryBlockStore()
    const peer = new ContentStore({ blockStore: peerBlocks, index: new ContentIndex({ datastore: new MemoryDatastore() }) })
    const dir = path.join(tmp, 'shared')
    await fs.mkdir(path.join(dir, 'sub'), { recursive: true })
    await fs.writeFile(path.join(dir, 'a'), randomBytes(MiB + 3))
    await fs.writeFile(path.join(dir, 'sub', 'b'), 'twelve bytes')
    await fs.writeFile(path.join(dir, 'sub', 'c'), 'twelve bytes') // same content, counted twice
    let done: ImportDoneEvent | undefined
    for await (const event of peer.add(dir)) {
      if (event.type === 'import:done') {
        done = event
      }
    }
    if (done == null) {
      throw new Error('no root')
    }
    for await (const { cid } of peerBlocks.entries()) {
      await blockStore.put(cid, await peerBlocks.get(cid))
    }
    const record = await store.record(done.cid)
    expect(record.size).toBe(MiB + 3 + 24)
    expect(record.size).toBe(done.size)
    expect(record.blocks).toBe(done.blocks)
  })
})

describe('import failures leave nothing kept', () => {
  it('nonexistent path: ERR_PATH_NOT_FOUND naming the path', async () => {
    const missing = path.join(tmp, 'no-such-file')
    await expect(add(missing)).rejects.toMatchObject({ code: 'ERR_PATH_NOT_FOUND', message: expect.stringContaining(missing) })
    expect(await store.list()).toEqual([])
  })

  it('a FIFO as the path: ERR_PATH_UNREADABLE naming the path (inside a directory it is skipped)', async () => {
    const fifo = path.join(tmp, 'pipe')
    execFileSync('mkfifo', [fifo])
    await expect(add(fifo)).rejects.toMatchObject({ code: 'ERR_PATH_UNREADABLE', message: expect.stringContaining(fifo) })

    const dir = path.join(tmp, 'with-fifo')
    await fs.mkdir(dir)
    execFileSync('mkfifo', [path.join(dir, 'pipe')])
    await fs.writeFile(path.join(dir, 'file'), 'x')
    const events: ImportEvent[] = []
    for await (const event of store.add(dir)) {
      events.push(event)
    }
    expect(events).toContainEqual({ type: 'import:skipped', path: path.join(dir, 'pipe'), reason: 'special-file' })
  })

  it('maps permission errors to ERR_PATH_UNREADABLE naming the path (root cannot provoke them)', () => {
    const err = fsError('/some/file', Object.assign(new Error('EACCES: permission denied'), { code: 'EACCES' }))
    expect(err).toMatchObject({ code: 'ERR_PATH_UNREADABLE', path: '/some/file', message: expect.stringContaining('/some/file') })
    expect(fsError('/gone', Object.assign(new Error('ENOENT'), { code: 'ENOENT' }))).toMatchObject({ code: 'ERR_PATH_NOT_FOUND' })
  })

  it('a failing block store (disk full): the error surfaces, nothing kept, new blocks deleted', async () => {
    let puts = 0
    const failing = {
      has: blockStore.has.bind(blockStore),
      get: blockStore.get.bind(blockStore),
      size: blockStore.size.bind(blockStore),
      delete: blockStore.delete.bind(blockStore),
      put: async (...args: Parameters<FsBlockStore['put']>) => {
        if (++puts > 5) {
          throw Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' })
        }
        await blockStore.put(...args)
      }
    }
    const broken = new ContentStore({ blockStore: failing, index })
    await expect(async () => {
      for await (const _ of broken.add(randomBytes(20 * MiB))) {} // eslint-disable-line no-empty
    }).rejects.toThrow('ENOSPC')
    expect(await store.list()).toEqual([])
    expect(await storedKeys()).toEqual(new Set())
  })

  /** A ContentStore over the same blocks whose puts are counted, to act once blocks are on disk */
  function countingStore (): { counting: ContentStore, written: () => number } {
    let written = 0
    const counted = {
      has: blockStore.has.bind(blockStore),
      get: blockStore.get.bind(blockStore),
      size: blockStore.size.bind(blockStore),
      delete: blockStore.delete.bind(blockStore),
      put: async (...args: Parameters<FsBlockStore['put']>) => {
        await blockStore.put(...args)
        written++
      }
    }
    return { counting: new ContentStore({ blockStore: counted, index }), written: () => written }
  }

  it('abort mid-import: nothing indexed, new blocks deleted, pre-existing shared blocks kept', async () => {
    const { a, b } = overlapping()
    const doneA = await add(a)
    const keptBefore = await storedKeys()

    const file = path.join(tmp, 'b.bin')
    await fs.writeFile(file, Buffer.concat([b, randomBytes(24 * MiB)]))
    const { counting, written } = countingStore()
    const controller = new AbortController()
    await expect(async () => {
      for await (const _ of counting.add(file, { signal: controller.signal })) {
        if (written() >= 6) {
          // the two shared chunks plus at least four new ones are on disk by now
          expect((await storedKeys()).size).toBeGreaterThan(keptBefore.size)
          controller.abort()
        }
      }
    }).rejects.toThrow()

    expect((await store.list()).map(r => r.cid.toString())).toEqual([doneA.cid.toString()])
    expect(await storedKeys()).toEqual(keptBefore)
    expect(await store.hasAll(doneA.cid)).toBe(true)
  })

  it('a consumer that stops early gets the same cleanup', async () => {
    const file = path.join(tmp, 'big.bin')
    await fs.writeFile(file, randomBytes(24 * MiB))
    const { counting, written } = countingStore()
    for await (const _ of counting.add(file)) {
      if (written() >= 4) {
        break
      }
    }
    expect(written()).toBeGreaterThanOrEqual(4)
    expect(await store.list()).toEqual([])
    expect(await storedKeys()).toEqual(new Set())
  })
})

describe('concurrency', () => {
  it('a remove racing an import of overlapping content never leaves the import incomplete', async () => {
    for (let round = 0; round < 3; round++) {
      const { a, b } = overlapping()
      const doneA = await add(a)
      const [doneB] = await Promise.all([add(b), store.remove(doneA.cid)])
      expect(await store.hasAll(doneB.cid)).toBe(true)
      expect(await exportsIdentically(doneB.cid, b)).toBe(true)
      await store.remove(doneB.cid)
      expect(await storedKeys()).toEqual(new Set())
    }
  })

  it('parallel imports sharing blocks both complete', async () => {
    const { a, b } = overlapping()
    const [doneA, doneB] = await Promise.all([add(a), add(b)])
    expect(await store.hasAll(doneA.cid)).toBe(true)
    expect(await store.hasAll(doneB.cid)).toBe(true)
  })
})
