import { randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { MemoryDatastore } from 'datastore-core/memory'
import fc from 'fast-check'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { exportTo } from '../../../src/content/unixfs/exporter.js'
import { FsBlockStore } from '../../../src/content/blocks/fs-block-store.js'
import { importBytes, importPath } from '../../../src/content/unixfs/importer.js'
import { CHUNK_SIZE } from '../../../src/content/unixfs/layout.js'
import { InMemoryBlockStore } from '../../../src/content/blocks/memory-block-store.js'
import { ContentIndex } from '../../../src/content/roots/content-index.js'
import { verifyBlock } from '../../../src/content/blocks/verify.js'
import { blockBufferPool } from '../../../src/util/block-buffer-pool.js'
import type { BlockStore } from '../../../src/content/blocks/block-store.js'
import type { ExportEvent } from '../../../src/content/unixfs/exporter.js'
import type { ImportDoneEvent, ImportEvent } from '../../../src/content/unixfs/importer.js'
import { collect } from '../../helpers/collect.js'

const MiB = CHUNK_SIZE

let tmp: string

beforeEach(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'kizuna-roundtrip-'))
})

afterEach(async () => {
  await fs.rm(tmp, { recursive: true, force: true })
})

function doneOf (events: ImportEvent[]): ImportDoneEvent {
  const done = events.find(e => e.type === 'import:done')
  if (done?.type !== 'import:done') {
    throw new Error('no import:done')
  }
  return done
}

function sameBytes (a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === b.byteLength && Buffer.compare(a, b) === 0
}

/** Relative path -> file bytes (or null for a directory) of everything under dir */
async function snapshot (dir: string): Promise<Map<string, Buffer | null>> {
  const out = new Map<string, Buffer | null>()
  for (const entry of await fs.readdir(dir, { recursive: true, withFileTypes: true })) {
    const full = path.join(entry.parentPath, entry.name)
    out.set(path.relative(dir, full), entry.isDirectory() ? null : await fs.readFile(full))
  }
  return out
}

async function fsComponents (): Promise<{ blockStore: FsBlockStore, index: ContentIndex }> {
  const blockStore = new FsBlockStore(path.join(tmp, 'repo', 'blocks'))
  await blockStore.open()
  return { blockStore, index: new ContentIndex({ datastore: new MemoryDatastore() }) }
}

describe('import then export is byte-identical (FsBlockStore)', () => {
  it.each([0, 1, 1000, MiB - 1, MiB, MiB + 1, 5 * MiB])('file of %i bytes', async (size) => {
    const components = await fsComponents()
    const bytes = randomBytes(size)
    const input = path.join(tmp, 'input.bin')
    await fs.writeFile(input, bytes)

    const events = await collect(importPath(input, components))
    const done = doneOf(events)
    expect(done.size).toBe(size)
    expect(done.blocks).toBe(size <= MiB ? 1 : Math.ceil(size / MiB) + 1)
    expect(done.record.name).toBe('input.bin')
    const progress = events.filter(e => e.type === 'import:progress')
    expect(progress[0]).toEqual({ type: 'import:progress', bytes: 0, totalBytes: size })
    expect(progress.at(-1)).toEqual({ type: 'import:progress', bytes: size, totalBytes: size })

    const out = path.join(tmp, 'out.bin')
    const exported = await collect(exportTo(done.cid, out, components))
    expect(exported.at(-1)).toEqual({ type: 'export:done', cid: done.cid, path: out, bytes: size })
    const last = exported.filter((e): e is Extract<ExportEvent, { type: 'export:progress' }> => e.type === 'export:progress').at(-1)
    expect(last?.totalBytes).toBe(size)
    expect(sameBytes(await fs.readFile(out), bytes)).toBe(true)
    // no temp files left next to the output
    expect((await fs.readdir(tmp)).sort()).toEqual(['input.bin', 'out.bin', 'repo'])
  })

  it('nested directory, with empty directories, skipping a symlink', async () => {
    const components = await fsComponents()
    const dir = path.join(tmp, 'docs')
    await fs.mkdir(path.join(dir, 'a', 'b', 'c'), { recursive: true })
    await fs.mkdir(path.join(dir, 'empty'))
    await fs.writeFile(path.join(dir, 'top.txt'), 'top')
    await fs.writeFile(path.join(dir, 'zero'), '')
    await fs.writeFile(path.join(dir, 'a', 'one.bin'), randomBytes(MiB + 1))
    await fs.writeFile(path.join(dir, 'a', 'b', 'exact.bin'), randomBytes(MiB))
    await fs.writeFile(path.join(dir, 'a', 'b', 'c', 'deep.txt'), 'deep')
    await fs.writeFile(path.join(dir, 'a', 'b', 'c', 'same.txt'), 'deep') // duplicate content
    await fs.symlink('/etc/passwd', path.join(dir, 'a', 'link'))
    const expected = await snapshot(dir)
    expected.delete(path.join('a', 'link'))

    const events = await collect(importPath(dir, components))
    expect(events.filter(e => e.type === 'import:skipped')).toEqual([
      { type: 'import:skipped', path: path.join(dir, 'a', 'link'), reason: 'symlink' }
    ])
    const done = doneOf(events)
    expect(done.size).toBe(3 + MiB + 1 + MiB + 4 + 4)

    const out = path.join(tmp, 'restored')
    await collect(exportTo(done.cid, out, components))
    const actual = await snapshot(out)
    expect([...actual.keys()].sort()).toEqual([...expected.keys()].sort())
    for (const [name, bytes] of expected) {
      const got = actual.get(name)
      expect(got === null ? null : sameBytes(got as Buffer, bytes as Buffer), name).toBe(bytes === null ? null : true)
    }
  })
})

describe('import reads into pooled buffers', () => {
  it('recycles them once stored, and no stored block or CID sees a recycled buffer', async () => {
    // poison overwrites every released buffer: a buffer released while the importer or the
    // store still needed it would leave a block that does not match its CID, or a wrong CID
    const wasPoisoned = blockBufferPool.poison
    blockBufferPool.poison = true
    try {
      const components = await fsComponents()
      const bytes = randomBytes(12 * MiB + 4321)
      const input = path.join(tmp, 'input.bin')
      await fs.writeFile(input, bytes)
      const created = blockBufferPool.created
      const reused = blockBufferPool.reused
      const done = doneOf(await collect(importPath(input, components)))

      // 13 chunks through a handful of buffers (blockWriteConcurrency plus read-ahead)
      expect(blockBufferPool.reused - reused).toBeGreaterThan(0)
      expect(blockBufferPool.created - created).toBeLessThan(13)
      // the same bytes imported into memory, with no pool involved, give the same root
      const plain = doneOf(await collect(importBytes(bytes, { blockStore: new InMemoryBlockStore(), index: new ContentIndex({ datastore: new MemoryDatastore() }) })))
      expect(done.cid.equals(plain.cid)).toBe(true)
      let stored = 0
      for await (const { cid } of components.blockStore.entries()) {
        verifyBlock(cid, await components.blockStore.get(cid))
        stored++
      }
      expect(stored).toBe(done.blocks)
      const out = path.join(tmp, 'out.bin')
      await collect(exportTo(done.cid, out, components))
      expect(sameBytes(await fs.readFile(out), bytes)).toBe(true)
    } finally {
      blockBufferPool.poison = wasPoisoned
    }
  })
})

describe('property: any bytes survive import and export, and every stored block verifies', () => {
  // Lengths cluster around chunk boundaries, where off-by-one bugs live; content is random or
  // constant (constant content makes identical leaves, exercising deduplication).
  const length = fc.oneof(
    fc.constantFrom(0, 1, MiB - 1, MiB, MiB + 1, 2 * MiB, 2 * MiB + 1),
    fc.integer({ min: 0, max: 3 * MiB })
  )
  const content = fc.record({ length, seed: fc.integer(), constant: fc.boolean() }).map(({ length, seed, constant }) => {
    const bytes = new Uint8Array(length)
    let x = seed | 1
    for (let i = 0; i < length; i++) {
      if (!constant) {
        x ^= x << 13; x ^= x >>> 17; x ^= x << 5 // xorshift: fast, deterministic per seed
      }
      bytes[i] = x & 0xff
    }
    return bytes
  })

  async function check (bytes: Uint8Array): Promise<void> {
    const blockStore = new InMemoryBlockStore()
    const index = new ContentIndex({ datastore: new MemoryDatastore() })
    const done = doneOf(await collect(importBytes(bytes, { blockStore, index })))
    expect(done.size).toBe(bytes.byteLength)

    const out = path.join(tmp, `out-${Math.random().toString(16).slice(2)}`)
    await collect(exportTo(done.cid, out, { blockStore }))
    expect(sameBytes(await fs.readFile(out), bytes)).toBe(true)
    await fs.rm(out)

    let blocks = 0
    for await (const { cid } of blockStore.entries()) {
      verifyBlock(cid, await blockStore.get(cid))
      blocks++
    }
    expect(blocks).toBe(done.blocks)
  }

  it('random lengths and contents', async () => {
    await fc.assert(fc.asyncProperty(content, check), { numRuns: 30 })
  })

  it('small arbitrary byte arrays', async () => {
    await fc.assert(fc.asyncProperty(fc.uint8Array({ maxLength: 4096 }), check), { numRuns: 100 })
  })
})

describe('FsBlockStore as the blockstore for other users', () => {
  it('blocks written by an import are exactly the DAG', async () => {
    const { blockStore, index } = await fsComponents()
    const done = doneOf(await collect(importBytes(randomBytes(3 * MiB), { blockStore, index })))
    let count = 0
    let bytes = 0
    for await (const entry of blockStore.entries()) {
      count++
      bytes += entry.size
    }
    expect(count).toBe(done.blocks)
    expect(bytes).toBe(done.blockBytes)
    const store: BlockStore = blockStore
    expect(await store.has(done.cid)).toBe(true)
  })
})
