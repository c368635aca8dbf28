import { randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { unixfs } from '@helia/unixfs'
import * as dagPb from '@ipld/dag-pb'
import { MemoryBlockstore } from 'blockstore-core/memory'
import { MemoryDatastore } from 'datastore-core/memory'
import { UnixFS } from 'ipfs-unixfs'
import { CID } from 'multiformats/cid'
import * as json from 'multiformats/codecs/json'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { checkEntryName, exportTo } from '../../../src/content/unixfs/exporter.js'
import { importBytes } from '../../../src/content/unixfs/importer.js'
import { CHUNK_SIZE } from '../../../src/content/unixfs/layout.js'
import { InMemoryBlockStore } from '../../../src/content/blocks/memory-block-store.js'
import { ContentIndex } from '../../../src/content/roots/content-index.js'
import type { ExportEvent } from '../../../src/content/unixfs/exporter.js'

let tmp: string
let blockStore: InMemoryBlockStore

beforeEach(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'kizuna-export-'))
  blockStore = new InMemoryBlockStore()
})

afterEach(async () => {
  await fs.rm(tmp, { recursive: true, force: true })
})

async function putRaw (bytes: Uint8Array): Promise<CID> {
  const cid = CID.createV1(raw.code, await sha256.digest(bytes))
  await blockStore.put(cid, bytes)
  return cid
}

/** A hand-built UnixFS node, bypassing the importer, as a hostile peer could send */
async function putNode (unixfs: UnixFS, links: Array<{ Name: string, Hash: CID }>): Promise<CID> {
  const bytes = dagPb.encode(dagPb.prepare({ Data: unixfs.marshal(), Links: links.map(l => ({ ...l, Tsize: 1 })) }))
  const cid = CID.createV1(dagPb.code, await sha256.digest(bytes))
  await blockStore.put(cid, bytes)
  return cid
}

async function dirWith (links: Array<{ Name: string, Hash: CID }>): Promise<CID> {
  return putNode(new UnixFS({ type: 'directory' }), links)
}

async function run (cid: CID, out: string, options = {}): Promise<ExportEvent[]> {
  const events: ExportEvent[] = []
  for await (const event of exportTo(cid, out, { blockStore }, options)) {
    events.push(event)
  }
  return events
}

async function importRandom (size: number): Promise<{ cid: CID, bytes: Uint8Array }> {
  const bytes = new Uint8Array(randomBytes(size))
  for await (const event of importBytes(bytes, { blockStore, index: new ContentIndex({ datastore: new MemoryDatastore() }) })) {
    if (event.type === 'import:done') {
      return { cid: event.cid, bytes }
    }
  }
  throw new Error('no import:done')
}

describe('unsafe directory entries', () => {
  const badNames = ['../evil', '..', '.', '', 'a/b', '/etc/evil', 'back\\slash', '..\\evil', 'nul\0byte']

  it.each(badNames)('rejects entry %j with ERR_UNSAFE_PATH and writes nothing', async (name) => {
    const payload = await putRaw(new TextEncoder().encode('pwned'))
    // the bad entry sits one level down, after a good one, so some output exists when it is found
    const inner = await dirWith([{ Name: 'fine.txt', Hash: payload }, { Name: name, Hash: payload }])
    const root = await dirWith([{ Name: 'sub', Hash: inner }])

    const out = path.join(tmp, 'work', 'out')
    await fs.mkdir(path.dirname(out))
    await expect(run(root, out)).rejects.toMatchObject({ code: 'ERR_UNSAFE_PATH' })

    await expect(fs.lstat(out)).rejects.toThrow()
    expect(await fs.readdir(path.join(tmp, 'work'))).toEqual([]) // temp tree removed too
    expect((await fs.readdir(tmp)).sort()).toEqual(['work']) // nothing escaped upwards
  })

  it('rejects duplicate names instead of overwriting', async () => {
    const a = await putRaw(new TextEncoder().encode('a'))
    const b = await putRaw(new TextEncoder().encode('b'))
    const root = await dirWith([{ Name: 'same', Hash: a }, { Name: 'same', Hash: b }])
    const out = path.join(tmp, 'out')
    await expect(run(root, out)).rejects.toMatchObject({ code: 'ERR_UNSAFE_PATH' })
    expect(await fs.readdir(tmp)).toEqual([])
  })

  it('checkEntryName accepts ordinary names', () => {
    for (const name of ['a', 'a.txt', '...', '.hidden', 'with space', 'ファイル', 'C:']) {
      checkEntryName(name)
    }
  })

  it('does not recreate symlinks from the DAG, reporting them as skipped', async () => {
    const link = await putNode(new UnixFS({ type: 'symlink', data: new TextEncoder().encode('/etc/passwd') }), [])
    const file = await putRaw(new TextEncoder().encode('ok'))
    const root = await dirWith([{ Name: 'file', Hash: file }, { Name: 'link', Hash: link }])
    const out = path.join(tmp, 'out')
    const events = await run(root, out)
    expect(events).toContainEqual({ type: 'export:skipped', path: 'link', reason: 'symlink' })
    expect(await fs.readdir(out)).toEqual(['file'])
  })
})

describe('HAMT-sharded directories', () => {
  it('exports every entry under its real name', async () => {
    // Helia with a tiny shard threshold builds a multi-level HAMT from a handful of files
    const heliaBlocks = new MemoryBlockstore()
    const files = Array.from({ length: 60 }, (_, i) => ({ path: `d/file-${i}.txt`, content: new TextEncoder().encode(`content ${i}`) }))
    let root: CID | undefined
    for await (const entry of unixfs({ blockstore: heliaBlocks }).addAll(files, { shardSplitThresholdBytes: 200 })) {
      root = entry.cid
    }
    if (root == null) {
      throw new Error('no root')
    }
    for await (const { cid, bytes } of heliaBlocks.getAll()) {
      const chunks: Uint8Array[] = []
      for await (const chunk of bytes) {
        chunks.push(chunk)
      }
      await blockStore.put(cid, Buffer.concat(chunks))
    }
    const rootNode = UnixFS.unmarshal(dagPb.decode(await blockStore.get(root)).Data ?? new Uint8Array())
    expect(rootNode.type).toBe('hamt-sharded-directory')

    const out = path.join(tmp, 'out')
    await run(root, out)
    const names = (await fs.readdir(out)).sort()
    expect(names).toEqual(files.map(f => f.path.slice(2)).sort())
    for (let i = 0; i < files.length; i++) {
      expect(await fs.readFile(path.join(out, `file-${i}.txt`), 'utf8')).toBe(`content ${i}`)
    }
  })
})

describe('output handling', () => {
  it('refuses to overwrite without force and leaves the existing file alone', async () => {
    const { cid, bytes } = await importRandom(1000)
    const out = path.join(tmp, 'out')
    await fs.writeFile(out, 'precious')
    await expect(run(cid, out)).rejects.toMatchObject({ code: 'ERR_OUTPUT_EXISTS' })
    expect(await fs.readFile(out, 'utf8')).toBe('precious')
    expect(await fs.readdir(tmp)).toEqual(['out'])

    await run(cid, out, { force: true })
    expect(Buffer.compare(await fs.readFile(out), bytes)).toBe(0)
    expect(await fs.readdir(tmp)).toEqual(['out'])
  })

  it('with force replaces a directory with a file and a directory with a directory', async () => {
    const { cid } = await importRandom(10)
    const out = path.join(tmp, 'out')
    await fs.mkdir(out)
    await fs.writeFile(path.join(out, 'old'), 'old')
    await expect(run(cid, out)).rejects.toMatchObject({ code: 'ERR_OUTPUT_EXISTS' })
    await run(cid, out, { force: true })
    expect((await fs.stat(out)).isFile()).toBe(true)

    const dir = await dirWith([{ Name: 'new', Hash: cid }])
    await fs.rm(out)
    await fs.mkdir(out)
    await fs.writeFile(path.join(out, 'old'), 'old')
    await run(dir, out, { force: true })
    expect(await fs.readdir(out)).toEqual(['new'])
    expect(await fs.readdir(tmp)).toEqual(['out'])
  })

  it('needs the parent directory to exist (ERR_PATH_NOT_FOUND)', async () => {
    const { cid } = await importRandom(10)
    await expect(run(cid, path.join(tmp, 'missing', 'out'))).rejects.toMatchObject({ code: 'ERR_PATH_NOT_FOUND' })
  })
})

describe('bad or incomplete DAGs', () => {
  it('missing block: ERR_BLOCK_NOT_FOUND and nothing at outPath', async () => {
    const { cid } = await importRandom(3 * CHUNK_SIZE + 10)
    const leaves = dagPb.decode(await blockStore.get(cid)).Links
    await blockStore.delete(leaves[2].Hash)

    const out = path.join(tmp, 'out')
    await expect(run(cid, out)).rejects.toMatchObject({ code: 'ERR_BLOCK_NOT_FOUND' })
    expect(await fs.readdir(tmp)).toEqual([])
  })

  it('missing root: ERR_BLOCK_NOT_FOUND', async () => {
    const cid = CID.createV1(raw.code, await sha256.digest(new Uint8Array([1, 2, 3])))
    await expect(run(cid, path.join(tmp, 'out'))).rejects.toMatchObject({ code: 'ERR_BLOCK_NOT_FOUND' })
    expect(await fs.readdir(tmp)).toEqual([])
  })

  it('non-UnixFS dag-pb: ERR_INVALID_DAG; other codecs: ERR_UNSUPPORTED_CODEC', async () => {
    const bare = dagPb.encode({ Links: [] })
    const bareCid = CID.createV1(dagPb.code, await sha256.digest(bare))
    await blockStore.put(bareCid, bare)
    await expect(run(bareCid, path.join(tmp, 'a'))).rejects.toMatchObject({ code: 'ERR_INVALID_DAG' })

    const doc = json.encode({ hello: 'world' })
    const jsonCid = CID.createV1(json.code, await sha256.digest(doc))
    await blockStore.put(jsonCid, doc)
    await expect(run(jsonCid, path.join(tmp, 'b'))).rejects.toMatchObject({ code: 'ERR_UNSUPPORTED_CODEC' })
    expect(await fs.readdir(tmp)).toEqual([])
  })

  it('a file node lying about its size: ERR_INVALID_DAG', async () => {
    const leaf = await putRaw(new Uint8Array(10))
    const liar = new UnixFS({ type: 'file', blockSizes: [100n] })
    const root = await putNode(liar, [{ Name: '', Hash: leaf }])
    await expect(run(root, path.join(tmp, 'out'))).rejects.toMatchObject({ code: 'ERR_INVALID_DAG' })
    expect(await fs.readdir(tmp)).toEqual([])
  })

  it('abort mid-export leaves nothing behind', async () => {
    const { cid } = await importRandom(4 * CHUNK_SIZE)
    const controller = new AbortController()
    const out = path.join(tmp, 'out')
    await expect(async () => {
      for await (const event of exportTo(cid, out, { blockStore }, { signal: controller.signal })) {
        if (event.type === 'export:progress' && event.bytes > 0) {
          controller.abort()
        }
      }
    }).rejects.toThrow()
    expect(await fs.readdir(tmp)).toEqual([])
  })
})

describe('file content reader (read-ahead, recycled buffers)', () => {
  it('exports a many-block file from an FsBlockStore byte for byte', async () => {
    const { FsBlockStore } = await import('../../../src/content/blocks/fs-block-store.js')
    const fsStore = new FsBlockStore(path.join(tmp, 'blocks'))
    await fsStore.open()
    const bytes = new Uint8Array(randomBytes(7 * CHUNK_SIZE + 12345))
    let cid: CID | undefined
    for await (const event of importBytes(bytes, { blockStore: fsStore, index: new ContentIndex({ datastore: new MemoryDatastore() }) })) {
      if (event.type === 'import:done') cid = event.cid
    }
    const out = path.join(tmp, 'out')
    for await (const _ of exportTo(cid!, out, { blockStore: fsStore })) { /* drain */ }
    expect(Buffer.compare(await fs.readFile(out), bytes)).toBe(0)
    await fsStore.close()
  })

  it('walks a deeper DAG depth-first, inline data before children', async () => {
    const parts = [randomBytes(300), randomBytes(200), randomBytes(100), randomBytes(50)].map(b => new Uint8Array(b))
    const leaves = await Promise.all(parts.map(putRaw))
    const left = await putNode(new UnixFS({ type: 'file', blockSizes: [300n, 200n] }), [{ Name: '', Hash: leaves[0] }, { Name: '', Hash: leaves[1] }])
    const right = await putNode(new UnixFS({ type: 'file', data: parts[2], blockSizes: [50n] }), [{ Name: '', Hash: leaves[3] }])
    const root = await putNode(new UnixFS({ type: 'file', blockSizes: [500n, 150n] }), [{ Name: '', Hash: left }, { Name: '', Hash: right }])
    const out = path.join(tmp, 'out')
    await run(root, out)
    expect(Buffer.compare(await fs.readFile(out), Buffer.concat(parts))).toBe(0)
  })

  it('an interior node lying about its size: ERR_INVALID_DAG, nothing written', async () => {
    const leaf = await putRaw(new Uint8Array(10))
    const inner = await putNode(new UnixFS({ type: 'file', blockSizes: [10n] }), [{ Name: '', Hash: leaf }])
    const root = await putNode(new UnixFS({ type: 'file', blockSizes: [99n] }), [{ Name: '', Hash: inner }])
    await expect(run(root, path.join(tmp, 'out'))).rejects.toMatchObject({ code: 'ERR_INVALID_DAG' })
    expect(await fs.readdir(tmp)).toEqual([])
  })
})
