import { randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import * as raw from 'multiformats/codecs/raw'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { FileAssembler } from '../../../src/content/unixfs/file-assembler.js'
import { FsBlockStore } from '../../../src/content/blocks/fs-block-store.js'
import { deliveryOrder, makeDag, type Dag } from '../../helpers/dag-file.js'
import type { CID } from 'multiformats/cid'

let tmp: string
let store: FsBlockStore

beforeEach(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'kizuna-assemble-refs-'))
  store = new FsBlockStore(path.join(tmp, 'repo', 'blocks'))
  await store.open()
})

afterEach(async () => {
  await fs.rm(tmp, { recursive: true, force: true })
})

async function exists (file: string): Promise<boolean> {
  return await fs.access(file).then(() => true, () => false)
}

/** Delivers `blocks` through the assembler's view of the store, as a fetch does */
async function deliver (assembler: FileAssembler, blocks: Array<{ cid: CID, bytes: Uint8Array }>): Promise<void> {
  const through = assembler.blockStoreFor(store)
  for (const { cid, bytes } of blocks) {
    // a scratch copy scribbled over afterwards, as the exchange's recycled buffers are
    const scratch = new Uint8Array(bytes)
    await through.put(cid, scratch)
    scratch.fill(0xee)
  }
}

async function leaves (dag: Dag): Promise<CID[]> {
  return (await deliveryOrder(dag, Math.random)).filter(b => b.cid.code === raw.code).map(b => b.cid)
}

async function outputs (): Promise<string[]> {
  return (await fs.readdir(tmp)).filter(name => name !== 'repo').sort()
}

describe('FileAssembler keeping leaves by reference', () => {
  it('writes each leaf once, into the file, and the store serves it from the published output', async () => {
    const dag = await makeDag(randomBytes(200 * 1024 + 5), 8192, 5)
    const out = path.join(tmp, 'out.bin')
    const assembler = await FileAssembler.open(dag.root, out)
    await deliver(assembler, await deliveryOrder(dag, Math.random))
    const leafCids = await leaves(dag)
    expect(leafCids.length).toBeGreaterThan(20)
    for (const cid of leafCids) {
      expect(await exists(store.filePath(cid))).toBe(false)
      expect((await store.reference(cid))?.path).toBe(assembler.partialPath)
    }
    // interior nodes are stored as usual
    expect(await exists(store.filePath(dag.root))).toBe(true)

    await assembler.complete(store)
    await assembler.publish(store)
    expect(Buffer.compare(await fs.readFile(out), Buffer.from(dag.data))).toBe(0)
    expect(await outputs()).toEqual(['out.bin'])
    for (const cid of leafCids) {
      expect((await store.reference(cid))?.path).toBe(out)
      expect(Buffer.compare(await store.get(cid), await dag.store.get(cid))).toBe(0)
    }
    expect(await store.totalBytes()).toBeLessThan(4096)
  })

  it('copies referenced leaves into the store when the download is given up, and removes the partial file', async () => {
    const dag = await makeDag(randomBytes(120 * 1024), 4096, 8)
    const out = path.join(tmp, 'given-up.bin')
    const assembler = await FileAssembler.open(dag.root, out)
    const order = await deliveryOrder(dag, Math.random)
    const delivered = order.slice(0, Math.floor(order.length / 2))
    await deliver(assembler, delivered)
    await assembler.abort(store)
    expect(await outputs()).toEqual([])
    for (const { cid, bytes } of delivered) {
      expect(await store.reference(cid)).toBeUndefined()
      expect(await exists(store.referencePath(cid))).toBe(false)
      expect(Buffer.compare(await store.get(cid), bytes)).toBe(0)
    }
    await assembler.abort(store)
  })

  it('keeps the partial file and its references when they cannot be copied (nothing fetched is lost)', async () => {
    const dag = await makeDag(randomBytes(64 * 1024), 4096, 8)
    const out = path.join(tmp, 'kept.bin')
    const assembler = await FileAssembler.open(dag.root, out)
    const order = await deliveryOrder(dag, Math.random)
    await deliver(assembler, order)
    const failing = Object.assign(Object.create(store) as FsBlockStore, {
      put: async () => { throw Object.assign(new Error('no space left on device'), { code: 'ENOSPC' }) }
    })
    await assembler.abort(failing)
    expect(await exists(assembler.partialPath)).toBe(true)
    for (const cid of await leaves(dag)) {
      expect(Buffer.compare(await store.get(cid), await dag.store.get(cid))).toBe(0)
    }
  })

  it('after a kill -9, a get to the same path reopens the partial file and finds its leaves in place', async () => {
    const dag = await makeDag(randomBytes(150 * 1024 + 99), 4096, 6)
    const out = path.join(tmp, 'resumed.bin')
    const first = await FileAssembler.open(dag.root, out)
    const order = await deliveryOrder(dag, Math.random)
    await deliver(first, order.slice(0, Math.floor(order.length * 0.6)))
    // killed: no complete, no abort. Only a later process may open the same partial file.
    const partial = first.partialPath
    const fileBefore = await fs.stat(partial)

    const second = await FileAssembler.open(dag.root, out)
    expect(second.partialPath).not.toBe(partial)
    // the first process is gone: its claim on the partial file goes with it
    ;(first as unknown as { release: () => void }).release()
    const third = await FileAssembler.open(dag.root, out)
    expect(third.partialPath).toBe(partial)
    await second.abort(store)

    // what is missing comes from "the network": everything not already referenced
    const missing = []
    for (const block of order) if (!await store.has(block.cid)) missing.push(block)
    expect(missing.length).toBeGreaterThan(0)
    expect(missing.length).toBeLessThan(order.length)
    await third.accept(dag.root, await store.get(dag.root))
    await deliver(third, missing)
    await third.complete(store)
    await third.publish(store)
    expect(Buffer.compare(await fs.readFile(out), Buffer.from(dag.data))).toBe(0)
    expect(await outputs()).toEqual(['resumed.bin'])
    expect((await fs.stat(out)).ino).toBe(fileBefore.ino)
    // leaves found in place are now referenced in the output; leaves fetched under an interior node
    // that was already local were stored (their place was unknown when they arrived)
    for (const cid of await leaves(dag)) {
      const reference = await store.reference(cid)
      expect(reference === undefined ? await exists(store.filePath(cid)) : reference.path === out).toBe(true)
    }
    for (const block of order.slice(0, Math.floor(order.length * 0.6))) {
      if (block.cid.code === raw.code) expect((await store.reference(block.cid))?.path).toBe(out)
    }
  })

  it('points the references at whichever file holds the leaf once another output is written from them', async () => {
    const dag = await makeDag(randomBytes(40 * 1024), 4096, 4)
    const first = path.join(tmp, 'first.bin')
    const a = await FileAssembler.open(dag.root, first)
    await deliver(a, await deliveryOrder(dag, Math.random))
    await a.complete(store)
    await a.publish(store)
    // a second get of local content to another path reads the leaves from the first output
    const second = path.join(tmp, 'second.bin')
    const b = await FileAssembler.open(dag.root, second)
    await b.complete(store)
    await b.publish(store)
    await fs.rm(first)
    expect(Buffer.compare(await fs.readFile(second), Buffer.from(dag.data))).toBe(0)
    for (const cid of await leaves(dag)) {
      expect(Buffer.compare(await store.get(cid), await dag.store.get(cid))).toBe(0)
    }
  })
})
