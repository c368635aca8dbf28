import { randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { unixfs, globSource } from '@helia/unixfs'
import * as dagPb from '@ipld/dag-pb'
import { MemoryBlockstore } from 'blockstore-core/memory'
import { MemoryDatastore } from 'datastore-core/memory'
import { UnixFS } from 'ipfs-unixfs'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { importBytes, importPath } from '../../../src/content/unixfs/importer.js'
import { CHUNK_SIZE } from '../../../src/content/unixfs/layout.js'
import { InMemoryBlockStore } from '../../../src/content/blocks/memory-block-store.js'
import { ContentIndex } from '../../../src/content/roots/content-index.js'
import type { ImportEvent } from '../../../src/content/unixfs/importer.js'
import type { CID } from 'multiformats/cid'

// @helia/unixfs needs only { blockstore }: no Helia node, libp2p or shim involved.

const MiB = CHUNK_SIZE

let tmp: string

beforeEach(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'kizuna-helia-'))
})

afterEach(async () => {
  await fs.rm(tmp, { recursive: true, force: true })
})

function components (): { blockStore: InMemoryBlockStore, index: ContentIndex } {
  return { blockStore: new InMemoryBlockStore(), index: new ContentIndex({ datastore: new MemoryDatastore() }) }
}

async function rootOf (events: AsyncGenerator<ImportEvent>): Promise<CID> {
  let root: CID | undefined
  for await (const event of events) {
    if (event.type === 'import:done') {
      root = event.cid
    }
  }
  if (root == null) {
    throw new Error('no import:done event')
  }
  return root
}

async function heliaDirectoryRoot (dir: string): Promise<CID> {
  const fs = unixfs({ blockstore: new MemoryBlockstore() })
  let root: CID | undefined
  for await (const entry of fs.addAll(globSource(path.dirname(dir), `${path.basename(dir)}/**/*`, { hidden: true }))) {
    root = entry.cid
  }
  if (root == null) {
    throw new Error('helia imported nothing')
  }
  return root
}

describe('root CIDs equal @helia/unixfs defaults', () => {
  const sizes = [0, 1, 1000, 262_144, MiB - 1, MiB, MiB + 1, 3 * MiB + 5, 5 * MiB]

  it.each(sizes)('file of %i bytes: importBytes, importPath, addBytes, addByteStream agree', async (size) => {
    const bytes = new Uint8Array(randomBytes(size))
    const heliaFs = unixfs({ blockstore: new MemoryBlockstore() })
    const helia = await heliaFs.addBytes(bytes)

    // a stream with chunk boundaries unrelated to ours must not matter
    const ragged = (function * () {
      for (let offset = 0; offset < size; offset += 65_537) {
        yield bytes.subarray(offset, offset + 65_537)
      }
    })()
    expect((await heliaFs.addByteStream(ragged)).toString()).toBe(helia.toString())

    expect((await rootOf(importBytes(bytes, components()))).toString()).toBe(helia.toString())

    const file = path.join(tmp, 'file.bin')
    await fs.writeFile(file, bytes)
    expect((await rootOf(importPath(file, components()))).toString()).toBe(helia.toString())
  })

  it('file of repeated identical chunks (zeros)', async () => {
    const bytes = new Uint8Array(4 * MiB + 3)
    const helia = await unixfs({ blockstore: new MemoryBlockstore() }).addBytes(bytes)
    expect((await rootOf(importBytes(bytes, components()))).toString()).toBe(helia.toString())
  })

  it('nested directory with empty dirs, hidden and unicode names', async () => {
    const dir = path.join(tmp, 'tree')
    await fs.mkdir(path.join(dir, 'sub', 'deeper'), { recursive: true })
    await fs.mkdir(path.join(dir, 'empty'))
    await fs.mkdir(path.join(dir, 'sub', 'empty too'))
    await fs.writeFile(path.join(dir, 'a.txt'), 'hello')
    await fs.writeFile(path.join(dir, 'zero'), '')
    await fs.writeFile(path.join(dir, '.hidden'), 'secret')
    await fs.writeFile(path.join(dir, 'ファイル.txt'), 'unicode')
    await fs.writeFile(path.join(dir, 'sub', 'big.bin'), randomBytes(MiB + 1))
    await fs.writeFile(path.join(dir, 'sub', 'deeper', 'c'), randomBytes(100))

    const ours = await rootOf(importPath(dir, components()))
    expect(ours.toString()).toBe((await heliaDirectoryRoot(dir)).toString())
  })

  it('empty directory', async () => {
    const dir = path.join(tmp, 'nothing')
    await fs.mkdir(dir)
    const ours = await rootOf(importPath(dir, components()))
    const helia = await unixfs({ blockstore: new MemoryBlockstore() }).addDirectory()
    expect(ours.toString()).toBe(helia.toString())
  })

  it('directory large enough to be HAMT-sharded', async () => {
    const dir = path.join(tmp, 'wide')
    await fs.mkdir(dir)
    // 4000 links estimated at name + CID bytes (~40 + 36) cross the 256 KiB shard threshold
    await Promise.all(Array.from({ length: 4000 }, async (_, i) => fs.writeFile(path.join(dir, `a-fairly-long-file-name-to-fill-links-${i}`), String(i))))
    const { blockStore, index } = components()
    const ours = await rootOf(importPath(dir, { blockStore, index }))
    const root = UnixFS.unmarshal(dagPb.decode(await blockStore.get(ours)).Data ?? new Uint8Array())
    expect(root.type).toBe('hamt-sharded-directory')
    expect(ours.toString()).toBe((await heliaDirectoryRoot(dir)).toString())
  })
})
