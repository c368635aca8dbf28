import { randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import * as dagPb from '@ipld/dag-pb'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { blockKey } from '../../../src/content/blocks/block-key.js'
import { FsBlockStore } from '../../../src/content/blocks/fs-block-store.js'
import { InMemoryBlockStore } from '../../../src/content/blocks/memory-block-store.js'
import type { ListableBlockStore } from '../../../src/content/blocks/listable-block-store.js'
import { codeOf } from '../../helpers/code-of.js'
import { MAX_BLOCK_SIZE } from '../../../src/content/blocks/verify.js'

async function rawBlock (size: number): Promise<{ cid: CID, bytes: Uint8Array }> {
  const bytes = new Uint8Array(randomBytes(size))
  return { cid: CID.createV1(raw.code, await sha256.digest(bytes)), bytes }
}

/** vitest's toEqual walks typed arrays element by element: seconds per MiB */
function expectBytes (actual: Uint8Array, expected: Uint8Array): void {
  expect(actual).toBeInstanceOf(Uint8Array)
  expect(actual.byteLength).toBe(expected.byteLength)
  expect(Buffer.compare(actual, expected)).toBe(0)
}

async function filesUnder (dir: string): Promise<string[]> {
  const entries = await fs.readdir(dir, { recursive: true, withFileTypes: true })
  return entries.filter(e => e.isFile()).map(e => path.join(e.parentPath, e.name))
}

let tmp: string

beforeEach(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'kizuna-blocks-'))
})

afterEach(async () => {
  await fs.rm(tmp, { recursive: true, force: true })
})

const implementations: Array<[string, () => Promise<ListableBlockStore>]> = [
  ['FsBlockStore', async () => {
    const store = new FsBlockStore(path.join(tmp, 'blocks'))
    await store.open()
    return store
  }],
  ['InMemoryBlockStore', async () => new InMemoryBlockStore()]
]

describe.each(implementations)('%s contract', (_, create) => {
  it('puts, gets, sizes, lists and deletes blocks', async () => {
    const store = await create()
    const a = await rawBlock(1000)
    const b = await rawBlock(0)
    await store.put(a.cid, a.bytes)
    await store.put(b.cid, b.bytes)

    expect(await store.has(a.cid)).toBe(true)
    expectBytes(await store.get(a.cid), a.bytes)
    expectBytes(await store.get(b.cid), b.bytes)
    expect(await store.size(a.cid)).toBe(1000)
    expect(await store.size(b.cid)).toBe(0)
    expect(await store.totalBytes()).toBe(1000)

    const listed = []
    for await (const entry of store.entries()) {
      listed.push(entry)
    }
    expect(listed.map(e => blockKey(e.cid)).sort()).toEqual([blockKey(a.cid), blockKey(b.cid)].sort())

    await store.delete(a.cid)
    expect(await store.has(a.cid)).toBe(false)
    expect(await store.size(a.cid)).toBeUndefined()
    await store.delete(a.cid) // deleting an absent block is fine
  })

  it('reports a missing block as ERR_BLOCK_NOT_FOUND', async () => {
    const store = await create()
    const { cid } = await rawBlock(10)
    expect(await codeOf(store.get(cid))).toBe('ERR_BLOCK_NOT_FOUND')
  })

  it('rejects bytes that do not match the CID and stores nothing', async () => {
    const store = await create()
    const { cid, bytes } = await rawBlock(5000)
    const wrong = Uint8Array.from(bytes)
    wrong[42] ^= 0xff
    expect(await codeOf(store.put(cid, wrong))).toBe('ERR_BLOCK_HASH_MISMATCH')
    expect(await store.has(cid)).toBe(false)
    expect(await store.totalBytes()).toBe(0)
    if (store instanceof FsBlockStore) {
      expect(await filesUnder(store.path)).toEqual([])
    }
  })

  it('treats a dag-pb and a raw CID with the same multihash as one block', async () => {
    const store = await create()
    const node = dagPb.encode({ Links: [] })
    const digest = await sha256.digest(node)
    await store.put(CID.createV1(dagPb.code, digest), node)
    expect(await store.has(CID.createV1(raw.code, digest))).toBe(true)
    expect(await store.has(CID.createV0(digest))).toBe(true)
  })

  it('honours an aborted signal', async () => {
    const store = await create()
    const { cid, bytes } = await rawBlock(10)
    const signal = AbortSignal.abort()
    await expect(store.put(cid, bytes, { signal })).rejects.toThrow()
    expect(await store.has(cid)).toBe(false)
  })
})

describe('FsBlockStore on disk', () => {
  async function open (init = {}): Promise<FsBlockStore> {
    const store = new FsBlockStore(path.join(tmp, 'blocks'), init)
    await store.open()
    return store
  }

  it('uses blockstore-fs layout: <shard>/<BASE32 multihash>.data', async () => {
    const store = await open()
    const { cid, bytes } = await rawBlock(10)
    await store.put(cid, bytes)
    const file = store.filePath(cid)
    expect(path.basename(file)).toMatch(/^[A-Z2-7]+\.data$/)
    expect(path.basename(path.dirname(file))).toBe(path.basename(file, '.data').slice(-2))
    expect(new Uint8Array(await fs.readFile(file))).toEqual(bytes)
  })

  it('ignores a steno temp file left by a write killed mid-way (kill -9)', async () => {
    const store = await open()
    const { cid, bytes } = await rawBlock(300_000)
    // What steno leaves when the process dies between writeFile(temp) and rename(temp, final):
    const final = store.filePath(cid)
    const temp = path.join(path.dirname(final), `.${path.basename(final)}.tmp`)
    await fs.mkdir(path.dirname(final), { recursive: true })
    await fs.writeFile(temp, bytes.subarray(0, 1234))

    expect(await store.has(cid)).toBe(false)
    expect(await store.size(cid)).toBeUndefined()
    expect(await codeOf(store.get(cid))).toBe('ERR_BLOCK_NOT_FOUND')
    const listed = []
    for await (const entry of store.entries()) {
      listed.push(entry)
    }
    expect(listed).toEqual([])
    expect(await store.totalBytes()).toBe(0)

    // and the next write of that block succeeds, reusing the temp name
    await store.put(cid, bytes)
    expectBytes(await store.get(cid), bytes)
    await expect(fs.access(temp)).rejects.toThrow()
  })

  it('turns a corrupted block file into an absent block (verify on read)', async () => {
    const store = await open()
    const { cid, bytes } = await rawBlock(2000)
    await store.put(cid, bytes)
    const corrupt = Uint8Array.from(bytes)
    corrupt[7] ^= 1
    await fs.writeFile(store.filePath(cid), corrupt)

    expect(await codeOf(store.get(cid))).toBe('ERR_BLOCK_NOT_FOUND')
    expect(await store.has(cid)).toBe(false)
  })

  it('getInto hashes a block it wrote only once the file\'s stat changed, and then catches a rewrite in place', async () => {
    const store = await open()
    const corrupted: CID[] = []
    store.onCorrupt = cid => { corrupted.push(cid) }
    const { cid, bytes } = await rawBlock(70_000)
    await store.put(cid, bytes)
    const target = new Uint8Array(MAX_BLOCK_SIZE)
    expectBytes(await store.getInto(cid, target), bytes)
    expectBytes(await store.getInto(cid, target), bytes)
    expect(store.readVerification).toEqual({ hashed: 0, vouchedByStat: 2 })

    // other bytes of the same size, written in place (same inode) with a new mtime
    const file = store.filePath(cid)
    const { mtimeMs } = await fs.stat(file)
    const corrupt = Uint8Array.from(bytes)
    corrupt[7] ^= 1
    await fs.writeFile(file, corrupt)
    await fs.utimes(file, new Date(mtimeMs + 1000), new Date(mtimeMs + 1000))
    expect(await codeOf(store.getInto(cid, target))).toBe('ERR_BLOCK_NOT_FOUND')
    expect(store.readVerification).toEqual({ hashed: 1, vouchedByStat: 2 })
    expect(await store.has(cid)).toBe(false)
    expect(corrupted.map(c => c.toString())).toEqual([cid.toString()])
  })

  it('hashes a block another process wrote on its first read, then vouches for it while its stat holds', async () => {
    const { cid, bytes } = await rawBlock(5000)
    await (await open()).put(cid, bytes)
    const store = await open()
    const target = new Uint8Array(MAX_BLOCK_SIZE)
    expectBytes(await store.getInto(cid, target), bytes)
    expect(store.readVerification).toEqual({ hashed: 1, vouchedByStat: 0 })
    expectBytes(await store.getInto(cid, target), bytes)
    expect(store.readVerification).toEqual({ hashed: 1, vouchedByStat: 1 })
    // get() has no stat to compare: it always hashes
    expectBytes(await store.get(cid), bytes)
    expect(store.readVerification).toEqual({ hashed: 2, vouchedByStat: 1 })
    // nor is anything checked when the caller or the store turned verification off
    await store.getInto(cid, target, { verify: false })
    await (await open({ verifyOnRead: false })).getInto(cid, target)
    expect(store.readVerification).toEqual({ hashed: 2, vouchedByStat: 1 })
  })

  it('serves corrupted bytes only when verifyOnRead is off', async () => {
    const store = await open({ verifyOnRead: false })
    const { cid, bytes } = await rawBlock(100)
    await store.put(cid, bytes)
    await fs.writeFile(store.filePath(cid), new Uint8Array(100))
    expect(await store.get(cid)).toEqual(new Uint8Array(100))
  })

  it('rewrites a truncated block file (torn write after a power loss) on put', async () => {
    const store = await open({ verifyOnRead: false })
    const { cid, bytes } = await rawBlock(5000)
    await store.put(cid, bytes)
    await fs.writeFile(store.filePath(cid), new Uint8Array(0))
    await store.put(cid, bytes)
    expectBytes(await store.get(cid), bytes)
  })

  it('coalesces concurrent puts of the same block', async () => {
    const store = await open()
    const { cid, bytes } = await rawBlock(1_048_576)
    await Promise.all(Array.from({ length: 8 }, async () => store.put(cid, bytes)))
    expectBytes(await store.get(cid), bytes)
    expect(await filesUnder(store.path)).toEqual([store.filePath(cid)])
  })

  it('keeps blocks across close and reopen', async () => {
    const store = await open()
    const { cid, bytes } = await rawBlock(100)
    await store.put(cid, bytes)
    await store.close()
    const again = await open()
    expectBytes(await again.get(cid), bytes)
  })

  it('reports an unopenable location with ERR_BLOCK_STORE_OPEN', async () => {
    const file = path.join(tmp, 'not-a-dir')
    await fs.writeFile(file, 'x')
    const store = new FsBlockStore(path.join(file, 'blocks'))
    expect(await codeOf(store.open())).toBe('ERR_BLOCK_STORE_OPEN')
  })
})
