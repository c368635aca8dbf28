import { randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import * as dagPb from '@ipld/dag-pb'
import fc from 'fast-check'
import { UnixFS } from 'ipfs-unixfs'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { FileAssembler } from '../../../src/content/unixfs/file-assembler.js'
import { InMemoryBlockStore } from '../../../src/content/blocks/memory-block-store.js'
import { deliveryOrder, makeDag, type Dag } from '../../helpers/dag-file.js'
import * as gcPacer from '../../../src/util/gc-pacer.js'

let tmp: string

beforeEach(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'kizuna-assemble-'))
})

afterEach(async () => {
  await fs.rm(tmp, { recursive: true, force: true })
})

async function assemble (dag: Dag, out: string, deliver: Array<{ cid: CID, bytes: Uint8Array }>): Promise<FileAssembler> {
  const assembler = await FileAssembler.open(dag.root, out)
  for (const { cid, bytes } of deliver) {
    // handed over in a scratch copy that is scribbled over afterwards, as a recycled buffer would be
    const scratch = new Uint8Array(bytes)
    await assembler.accept(cid, scratch)
    scratch.fill(0xee)
  }
  await assembler.complete(dag.store)
  await assembler.publish()
  return assembler
}

async function leftovers (): Promise<string[]> {
  return (await fs.readdir(tmp)).filter(name => name.includes('.kizuna-'))
}

describe('FileAssembler', () => {
  it('writes a multi-level file delivered in random order, byte-identical', async () => {
    const dag = await makeDag(randomBytes(300 * 1024 + 17), 4096, 4)
    const out = path.join(tmp, 'out.bin')
    const assembler = await assemble(dag, out, await deliveryOrder(dag, Math.random))
    expect(Buffer.compare(await fs.readFile(out), Buffer.from(dag.data))).toBe(0)
    expect(assembler.bytes).toBe(dag.data.byteLength)
    expect(await leftovers()).toEqual([])
  })

  it('property: any size, chunking, fan-out and delivery order gives the file back', async () => {
    await fc.assert(fc.asyncProperty(
      fc.integer({ min: 0, max: 40_000 }),
      fc.integer({ min: 256, max: 8192 }),
      fc.integer({ min: 2, max: 9 }),
      fc.integer({ min: 0, max: 2 ** 31 - 1 }),
      fc.double({ min: 0, max: 1, noNaN: true }),
      async (size, chunk, fanOut, seed, handedOver) => {
        const dag = await makeDag(randomBytes(size), chunk, fanOut)
        let state = seed
        const random = (): number => { state = (state * 1103515245 + 12345) % 2 ** 31; return state / 2 ** 31 }
        // only a prefix is handed over: the rest was "already stored" (a resume) and is filled from the store
        const order = await deliveryOrder(dag, random)
        const out = path.join(tmp, `p-${seed}-${size}`)
        await assemble(dag, out, order.slice(0, Math.round(order.length * handedOver)))
        expect(Buffer.compare(await fs.readFile(out), Buffer.from(dag.data))).toBe(0)
        await fs.rm(out)
      }), { numRuns: 40 })
    expect(await leftovers()).toEqual([])
  })

  it('paces collections by the bytes complete() reads from the store (a get that joined a fetch late copies them in a burst)', async () => {
    // pacing is off until a daemon turns it on (as test/exchange/buffer-pool.test.ts does in its worker)
    expect(gcPacer.enableGcPacing()).toBe(true)
    const dag = await makeDag(randomBytes(10 * gcPacer.PACE_BYTES + 17), 256 * 1024, 8)
    const before = gcPacer.scavenges
    // nothing handed over: every block comes from the store
    await assemble(dag, path.join(tmp, 'out.bin'), [])
    expect(Buffer.compare(await fs.readFile(path.join(tmp, 'out.bin')), Buffer.from(dag.data))).toBe(0)
    // one scavenge per PACE_BYTES read (and one at the start of the burst)
    expect(gcPacer.scavenges - before).toBeGreaterThanOrEqual(10)
  })

  it('places a leaf that occurs many times at every offset (a file of zeros)', async () => {
    const dag = await makeDag(new Uint8Array(64 * 1024), 4096, 3)
    const order = await deliveryOrder(dag, Math.random)
    // sixteen identical chunks are one block
    expect(order.filter(b => b.cid.code === raw.code)).toHaveLength(1)
    const out = path.join(tmp, 'zeros')
    await assemble(dag, out, order)
    expect(Buffer.compare(await fs.readFile(out), Buffer.from(dag.data))).toBe(0)
  })

  it('writes a single raw block', async () => {
    const dag = await makeDag(randomBytes(1000), 4096, 4)
    expect(dag.root.code).toBe(raw.code)
    const out = path.join(tmp, 'one')
    await assemble(dag, out, await deliveryOrder(dag, Math.random))
    expect(Buffer.compare(await fs.readFile(out), Buffer.from(dag.data))).toBe(0)
  })

  it('rejects a leaf whose size its parent misstates: ERR_INVALID_DAG, nothing published', async () => {
    const store = new InMemoryBlockStore()
    const leafBytes = randomBytes(100)
    const leaf = CID.createV1(raw.code, await sha256.digest(leafBytes))
    await store.put(leaf, leafBytes)
    const unixfs = new UnixFS({ type: 'file', blockSizes: [100n, 50n] })
    const nodeBytes = dagPb.encode(dagPb.prepare({ Data: unixfs.marshal(), Links: [{ Hash: leaf, Tsize: 100 }, { Hash: leaf, Tsize: 100 }] }))
    const root = CID.createV1(dagPb.code, await sha256.digest(nodeBytes))
    await store.put(root, nodeBytes)

    const out = path.join(tmp, 'liar')
    const assembler = await FileAssembler.open(root, out)
    await assembler.accept(root, nodeBytes)
    await assembler.accept(leaf, leafBytes)
    await expect(assembler.complete(store)).rejects.toMatchObject({ code: 'ERR_INVALID_DAG' })
    await assembler.abort()
    await expect(fs.stat(out)).rejects.toMatchObject({ code: 'ENOENT' })
    expect(await leftovers()).toEqual([])
  })

  it('stands down for a directory and leaves no temp file', async () => {
    const store = new InMemoryBlockStore()
    const dirBytes = dagPb.encode(dagPb.prepare({ Data: new UnixFS({ type: 'directory' }).marshal(), Links: [] }))
    const root = CID.createV1(dagPb.code, await sha256.digest(dirBytes))
    await store.put(root, dirBytes)
    const assembler = await FileAssembler.open(root, path.join(tmp, 'dir'))
    await assembler.accept(root, dirBytes)
    expect(assembler.usable).toBe(false)
    await assembler.complete(store)
    expect(await fs.readdir(tmp)).toEqual([])
  })

  it('refuses an existing output without force (ERR_OUTPUT_EXISTS) and replaces it with force', async () => {
    const dag = await makeDag(randomBytes(10_000), 4096, 4)
    const out = path.join(tmp, 'exists')
    await fs.writeFile(out, 'keep me')
    await expect(FileAssembler.open(dag.root, out)).rejects.toMatchObject({ code: 'ERR_OUTPUT_EXISTS' })
    expect(await fs.readFile(out, 'utf8')).toBe('keep me')
    const assembler = await FileAssembler.open(dag.root, out, { force: true })
    await assembler.complete(dag.store)
    await assembler.publish()
    expect(Buffer.compare(await fs.readFile(out), Buffer.from(dag.data))).toBe(0)
  })

  it('reports ERR_PATH_NOT_FOUND for a missing parent directory', async () => {
    const dag = await makeDag(randomBytes(10), 4096, 4)
    await expect(FileAssembler.open(dag.root, path.join(tmp, 'no', 'such', 'file'))).rejects.toMatchObject({ code: 'ERR_PATH_NOT_FOUND' })
  })
})
