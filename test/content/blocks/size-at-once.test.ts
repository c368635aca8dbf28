import { randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { FsBlockStore } from '../../../src/content/blocks/fs-block-store.js'

let tmp: string

beforeEach(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'kizuna-size-at-once-'))
})

afterEach(async () => {
  vi.restoreAllMocks()
  await fs.rm(tmp, { recursive: true, force: true })
})

async function block (size = 1000): Promise<{ cid: CID, bytes: Uint8Array }> {
  const bytes = new Uint8Array(randomBytes(size))
  return { cid: CID.createV1(raw.code, await sha256.digest(bytes)), bytes }
}

/** Counts the store's asynchronous file lookups (each a trip through the thread pool) */
function spyOnPool (): { calls: () => number } {
  const stat = vi.spyOn(fs, 'stat')
  const open = vi.spyOn(fs, 'open')
  return { calls: () => stat.mock.calls.length + open.mock.calls.length }
}

describe('FsBlockStore.size() while writes are synchronous', () => {
  it('answers for missing and stored blocks without the thread pool', async () => {
    const store = new FsBlockStore(path.join(tmp, 'blocks'))
    await store.open()
    const stored = await block(1234)
    await store.put(stored.cid, stored.bytes)
    const missing = await block()
    const pool = spyOnPool()
    expect(await store.size(missing.cid)).toBeUndefined()
    expect(await store.has(missing.cid)).toBe(false)
    expect(await store.size(stored.cid)).toBe(1234)
    expect(pool.calls()).toBe(0)
  })

  it('still reads a reference to size a block kept by one', async () => {
    const store = new FsBlockStore(path.join(tmp, 'blocks'))
    await store.open()
    const { cid, bytes } = await block(4096)
    const file = path.join(tmp, 'user-file.bin')
    await fs.writeFile(file, bytes)
    await store.putReference(cid, { path: file, offset: 0, size: bytes.byteLength })
    // a fresh store knows nothing in memory: the reference file itself must be read
    const reopened = new FsBlockStore(path.join(tmp, 'blocks'))
    await reopened.open()
    expect(await reopened.size(cid)).toBe(4096)
    await fs.truncate(file, 100)
    expect(await reopened.size(cid)).toBeUndefined()
  })

  it('goes through the thread pool when writes do (a slow disk must not hold the event loop)', async () => {
    const store = new FsBlockStore(path.join(tmp, 'blocks'), { syncWrites: false })
    await store.open()
    const missing = await block()
    const pool = spyOnPool()
    expect(await store.size(missing.cid)).toBeUndefined()
    expect(pool.calls()).toBeGreaterThan(0)
  })
})
