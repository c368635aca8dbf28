import { randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import fc from 'fast-check'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { formatReference, parseReference } from '../../../src/content/blocks/block-references.js'
import { FsBlockStore } from '../../../src/content/blocks/fs-block-store.js'
import { MAX_BLOCK_SIZE } from '../../../src/content/blocks/verify.js'
import { codeOf } from '../../helpers/code-of.js'

let tmp: string

beforeEach(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'kizuna-refs-'))
})

afterEach(async () => {
  await fs.rm(tmp, { recursive: true, force: true })
})

async function exists (file: string): Promise<boolean> {
  return await fs.access(file).then(() => true, () => false)
}

describe('reference codec', () => {
  it('round-trips every well-formed reference', () => {
    fc.assert(fc.property(
      fc.array(fc.string({ minLength: 1 }).filter(s => !s.includes('/') && !s.includes('\0')), { minLength: 1, maxLength: 4 }),
      fc.nat({ max: Number.MAX_SAFE_INTEGER }),
      fc.nat({ max: MAX_BLOCK_SIZE }),
      (parts, offset, size) => {
        const reference = { path: '/' + parts.join('/'), offset, size }
        expect(parseReference(new TextDecoder().decode(formatReference(reference)))).toEqual(reference)
      }
    ))
  })

  it('rejects anything that is not one', () => {
    for (const text of [
      '', 'null', '[]', '{', '"x"',
      JSON.stringify({ path: 'relative/file', offset: 0, size: 1 }),
      JSON.stringify({ path: '/a\0b', offset: 0, size: 1 }),
      JSON.stringify({ path: '/a', offset: -1, size: 1 }),
      JSON.stringify({ path: '/a', offset: 0.5, size: 1 }),
      JSON.stringify({ path: '/a', offset: 0, size: MAX_BLOCK_SIZE + 1 }),
      JSON.stringify({ path: '/a', offset: 2 ** 60, size: 1 }),
      JSON.stringify({ path: '/a', offset: '0', size: 1 }),
      JSON.stringify({ offset: 0, size: 1 })
    ]) {
      expect(parseReference(text), text).toBeUndefined()
    }
  })
})

describe('FsBlockStore blocks kept by reference', () => {
  /** A file of three random blocks, the middle one referenced */
  async function setUp (): Promise<{ store: FsBlockStore, file: string, cid: CID, bytes: Uint8Array, offset: number }> {
    const store = new FsBlockStore(path.join(tmp, 'blocks'))
    await store.open()
    const before = randomBytes(1000)
    const bytes = new Uint8Array(randomBytes(70_000))
    const file = path.join(tmp, 'user-file.bin')
    await fs.writeFile(file, Buffer.concat([before, bytes, randomBytes(500)]))
    const cid = CID.createV1(raw.code, await sha256.digest(bytes))
    await store.putReference(cid, { path: file, offset: before.byteLength, size: bytes.byteLength })
    return { store, file, cid, bytes, offset: before.byteLength }
  }

  it('reads the block from the file it points into, and lists it as referenced', async () => {
    const { store, file, cid, bytes, offset } = await setUp()
    expect(await store.has(cid)).toBe(true)
    expect(await store.size(cid)).toBe(bytes.byteLength)
    expect(Buffer.compare(await store.get(cid), bytes)).toBe(0)
    const target = new Uint8Array(MAX_BLOCK_SIZE)
    const read = await store.getInto(cid, target, { verify: false })
    expect(read.buffer).toBe(target.buffer)
    expect(Buffer.compare(read, bytes)).toBe(0)
    expect(await store.reference(cid)).toEqual({ path: file, offset, size: bytes.byteLength })
    const listed = []
    for await (const entry of store.entries()) listed.push(entry)
    expect(listed.map(e => [e.cid.multihash.bytes, e.size, e.referenced])).toEqual([[cid.multihash.bytes, bytes.byteLength, true]])
    // the bytes are the user's, not the store's
    expect(await store.totalBytes()).toBe(0)
  })

  it('forgets a reference whose bytes changed, even with verifyOnRead off, and keeps the file', async () => {
    const { file, cid, offset } = await setUp()
    const store = new FsBlockStore(path.join(tmp, 'blocks'), { verifyOnRead: false })
    const handle = await fs.open(file, 'r+')
    await handle.write(new Uint8Array([0xff, 0x00, 0xff]), 0, 3, offset + 10)
    await handle.close()
    expect(await codeOf(store.getInto(cid, new Uint8Array(MAX_BLOCK_SIZE), { verify: false }))).toBe('ERR_BLOCK_NOT_FOUND')
    expect(await store.has(cid)).toBe(false)
    expect(await exists(store.referencePath(cid))).toBe(false)
    expect(await exists(file)).toBe(true)
  })

  it('re-hashes referenced bytes while the file changed moments ago, then trusts its unchanged stat; a rewrite in place is caught', async () => {
    const { store: fresh, file, cid, bytes, offset } = await setUp()
    const target = new Uint8Array(MAX_BLOCK_SIZE)
    // the file was written just now: it may change again within the same timestamp tick
    await fresh.getInto(cid, target)
    await fresh.getInto(cid, target)
    expect(fresh.readVerification).toEqual({ hashed: 2, vouchedByStat: 0 })

    // the same file seen a minute later
    const store = new FsBlockStore(path.join(tmp, 'blocks'), { now: () => Date.now() + 60_000 })
    const corrupted: CID[] = []
    store.onCorrupt = c => { corrupted.push(c) }
    expect(Buffer.compare(await store.getInto(cid, target), bytes)).toBe(0)
    expect(Buffer.compare(await store.getInto(cid, target), bytes)).toBe(0)
    expect(store.readVerification).toEqual({ hashed: 1, vouchedByStat: 1 })

    // the user rewrites the file in place: same size, other bytes, and even puts its mtime back
    const { mtime } = await fs.stat(file)
    const whole = await fs.readFile(file)
    whole[offset + 10] ^= 0xff
    await fs.writeFile(file, whole)
    await fs.utimes(file, mtime, mtime)
    expect(await codeOf(store.getInto(cid, target))).toBe('ERR_BLOCK_NOT_FOUND')
    expect(store.readVerification).toEqual({ hashed: 2, vouchedByStat: 1 })
    expect(corrupted.map(c => c.toString())).toEqual([cid.toString()])
    expect(await exists(store.referencePath(cid))).toBe(false)
    expect(await exists(file)).toBe(true)
  })

  it('reports the block missing while its file is short or gone, and finds it again when the file is back', async () => {
    const { store, file, cid, bytes, offset } = await setUp()
    const whole = await fs.readFile(file)
    await fs.truncate(file, offset + 100)
    expect(await store.has(cid)).toBe(false)
    expect(await codeOf(store.get(cid))).toBe('ERR_BLOCK_NOT_FOUND')
    await fs.rm(file)
    expect(await store.size(cid)).toBeUndefined()
    expect(await codeOf(store.getInto(cid, new Uint8Array(MAX_BLOCK_SIZE)))).toBe('ERR_BLOCK_NOT_FOUND')
    // as when a published download is renamed into place before its references are rewritten
    await fs.writeFile(file, whole)
    expect(await store.size(cid)).toBe(bytes.byteLength)
    expect(Buffer.compare(await store.get(cid), bytes)).toBe(0)
  })

  it('deletes the reference, never the file it points into', async () => {
    const { store, file, cid } = await setUp()
    await store.delete(cid)
    expect(await store.has(cid)).toBe(false)
    expect(await exists(file)).toBe(true)
  })

  it('stores a put of a referenced block for real, and prefers that copy', async () => {
    const { store, file, cid, bytes } = await setUp()
    await store.put(cid, bytes)
    expect(await exists(store.filePath(cid))).toBe(true)
    expect(await store.reference(cid)).toBeUndefined()
    await fs.rm(file)
    expect(Buffer.compare(await store.get(cid), bytes)).toBe(0)
    const listed = []
    for await (const entry of store.entries()) listed.push(entry)
    expect(listed).toHaveLength(1)
    expect(listed[0].referenced).toBeUndefined()
    expect(await store.totalBytes()).toBe(bytes.byteLength)
  })

  it('treats a malformed reference file as absent', async () => {
    const { cid } = await setUp()
    // another process's view: this one remembers the references it wrote
    const store = new FsBlockStore(path.join(tmp, 'blocks'))
    await fs.writeFile(store.referencePath(cid), '{"path": "relative", "offset": 0, "size": 1}')
    expect(await store.has(cid)).toBe(false)
    expect(await codeOf(store.get(cid))).toBe('ERR_BLOCK_NOT_FOUND')
    await fs.writeFile(store.referencePath(cid), Buffer.alloc(100_000, 0x20))
    expect(await store.has(cid)).toBe(false)
    const listed = []
    for await (const entry of store.entries()) listed.push(entry)
    expect(listed).toEqual([])
  })
})
