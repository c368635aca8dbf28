import * as dagPb from '@ipld/dag-pb'
import { CID } from 'multiformats/cid'
import * as json from 'multiformats/codecs/json'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { describe, expect, it } from 'vitest'
import { childLinks, SCAN_STAT_BATCH, scanDag, walkDag } from '../../../src/content/unixfs/dag.js'
import { BlockNotFoundError } from '../../../src/content/errors.js'
import { InMemoryBlockStore } from '../../../src/content/blocks/memory-block-store.js'

async function putRaw (store: InMemoryBlockStore, text: string): Promise<CID> {
  const bytes = new TextEncoder().encode(text)
  const cid = CID.createV1(raw.code, await sha256.digest(bytes))
  await store.put(cid, bytes)
  return cid
}

async function putNode (store: InMemoryBlockStore, links: CID[]): Promise<CID> {
  const bytes = dagPb.encode(dagPb.prepare({ Links: links.map(Hash => ({ Hash })) }))
  const cid = CID.createV1(dagPb.code, await sha256.digest(bytes))
  await store.put(cid, bytes)
  return cid
}

function codeOf (fn: () => unknown): string | undefined {
  try {
    fn()
  } catch (err) {
    return (err as { code?: string }).code
  }
  return undefined
}

describe('childLinks', () => {
  it('returns nothing for raw blocks and the links of dag-pb nodes in order', async () => {
    const store = new InMemoryBlockStore()
    const a = await putRaw(store, 'a')
    const b = await putRaw(store, 'b')
    const node = await putNode(store, [a, b, a])
    expect(childLinks(a, new Uint8Array([1, 2, 3]))).toEqual([])
    expect(childLinks(node, await store.get(node)).map(c => c.toString())).toEqual([a, b, a].map(c => c.toString()))
  })

  it('rejects other codecs with ERR_UNSUPPORTED_CODEC and garbage with ERR_INVALID_BLOCK', async () => {
    const bytes = json.encode({ hello: 'world' })
    const cid = CID.createV1(json.code, await sha256.digest(bytes))
    expect(codeOf(() => childLinks(cid, bytes))).toBe('ERR_UNSUPPORTED_CODEC')

    const garbage = new Uint8Array([0xff, 0xff, 0xff])
    const pbCid = CID.createV1(dagPb.code, await sha256.digest(garbage))
    expect(codeOf(() => childLinks(pbCid, garbage))).toBe('ERR_INVALID_BLOCK')
  })
})

describe('walkDag / scanDag', () => {
  it('walks depth-first, pre-order, each block once', async () => {
    const store = new InMemoryBlockStore()
    const a = await putRaw(store, 'a')
    const b = await putRaw(store, 'b')
    const c = await putRaw(store, 'c')
    const left = await putNode(store, [a, b])
    const right = await putNode(store, [b, c]) // b is shared
    const root = await putNode(store, [left, right, a])

    const order: string[] = []
    for await (const block of walkDag(root, async cid => store.get(cid))) {
      order.push(block.cid.toString())
    }
    expect(order).toEqual([root, left, a, b, right, c].map(x => x.toString()))
  })

  it('stops with ERR_BLOCK_NOT_FOUND on a missing block; scanDag reports it instead', async () => {
    const store = new InMemoryBlockStore()
    const a = await putRaw(store, 'a')
    const missingLeaf = CID.createV1(raw.code, await sha256.digest(new Uint8Array([9])))
    const missingNodeBytes = dagPb.encode(dagPb.prepare({ Links: [{ Hash: a }] }))
    const missingNode = CID.createV1(dagPb.code, await sha256.digest(missingNodeBytes))
    const root = await putNode(store, [a, missingLeaf, missingNode])

    await expect(async () => {
      for await (const _ of walkDag(root, async cid => store.get(cid))) {} // eslint-disable-line no-empty
    }).rejects.toBeInstanceOf(BlockNotFoundError)

    const scanned = []
    for await (const block of scanDag(root, store)) {
      scanned.push([block.cid.toString(), block.size])
    }
    expect(scanned).toEqual([
      [root.toString(), (await store.get(root)).byteLength],
      [a.toString(), 1],
      [missingLeaf.toString(), undefined],
      [missingNode.toString(), undefined]
    ])
  })

  it('does not read raw leaves when scanning', async () => {
    const store = new InMemoryBlockStore()
    const leaf = await putRaw(store, 'leaf')
    const root = await putNode(store, [leaf])
    const reads: string[] = []
    const spy = {
      get: async (cid: CID) => { reads.push(cid.toString()); return store.get(cid) },
      size: async (cid: CID) => store.size(cid)
    }
    for await (const _ of scanDag(root, spy)) {} // eslint-disable-line no-empty
    expect(reads).toEqual([root.toString()])
  })

  it('stats a run of sibling leaves at once, yields them in DAG order, each once', async () => {
    const store = new InMemoryBlockStore()
    const leaves: CID[] = []
    for (let i = 0; i < 70; i++) leaves.push(await putRaw(store, `leaf ${i}`))
    const missing = CID.createV1(raw.code, await sha256.digest(new Uint8Array([1, 2, 3])))
    // a repeated leaf and an absent one among them
    const links = [...leaves.slice(0, 40), leaves[3], missing, ...leaves.slice(40)]
    const root = await putNode(store, links)
    let inFlight = 0
    let most = 0
    const spy = {
      get: async (cid: CID) => await store.get(cid),
      size: async (cid: CID) => {
        most = Math.max(most, ++inFlight)
        await new Promise(resolve => setImmediate(resolve))
        inFlight--
        return await store.size(cid)
      }
    }
    const scanned = []
    for await (const block of scanDag(root, spy)) scanned.push([block.cid.toString(), block.size])
    expect(scanned).toEqual([
      [root.toString(), (await store.get(root)).byteLength],
      ...leaves.slice(0, 40).map(l => [l.toString(), expect.any(Number)]),
      [missing.toString(), undefined],
      ...leaves.slice(40).map(l => [l.toString(), expect.any(Number)])
    ])
    expect(most).toBeGreaterThan(1)
    expect(most).toBeLessThanOrEqual(SCAN_STAT_BATCH)
  })
})
