import { createHash } from 'node:crypto'
import { importBytes } from 'ipfs-unixfs-importer'
import { fixedSize } from 'ipfs-unixfs-importer/chunker'
import { balanced } from 'ipfs-unixfs-importer/layout'
import * as raw from 'multiformats/codecs/raw'
import { childLinks } from '../../src/content/unixfs/dag.js'
import { InMemoryBlockStore } from '../../src/content/blocks/memory-block-store.js'
import type { BlockStore } from '../../src/content/blocks/block-store.js'
import type { CID } from 'multiformats/cid'

/** sha256 of a raw-leaves UnixFS file reassembled from `store` (depth-first, leaves in link order) */
export async function dagFileSha (store: BlockStore, root: CID): Promise<string> {
  const hash = createHash('sha256')
  const stack = [root]
  while (stack.length > 0) {
    const cid = stack.pop() as CID
    const bytes = await store.get(cid)
    if (cid.code === raw.code) {
      hash.update(bytes)
      continue
    }
    stack.push(...childLinks(cid, bytes).reverse())
  }
  return hash.digest('hex')
}

export interface Dag { root: CID, store: InMemoryBlockStore, data: Uint8Array }

export async function makeDag (data: Uint8Array, chunkSize: number, fanOut: number): Promise<Dag> {
  const store = new InMemoryBlockStore()
  const entry = await importBytes(data, {
    put: async (cid: CID, bytes: Uint8Array) => { await store.put(cid, bytes); return cid }
  } as any, { cidVersion: 1, rawLeaves: true, chunker: fixedSize({ chunkSize }), layout: balanced({ maxChildrenPerNode: fanOut }) })
  return { root: entry.cid, store, data }
}

/**
 * The DAG's blocks as a fetch would deliver them: each block after its parent, siblings and
 * subtrees interleaved at random (a session walks leaves shuffled). A CID seen twice is
 * delivered once, as the session dedups.
 */
export async function deliveryOrder (dag: Dag, random: () => number): Promise<Array<{ cid: CID, bytes: Uint8Array }>> {
  const order: Array<{ cid: CID, bytes: Uint8Array }> = []
  const seen = new Set<string>()
  const frontier: CID[] = [dag.root]
  while (frontier.length > 0) {
    const cid = frontier.splice(Math.floor(random() * frontier.length), 1)[0]
    if (seen.has(cid.toString())) continue
    seen.add(cid.toString())
    const bytes = await dag.store.get(cid)
    order.push({ cid, bytes })
    frontier.push(...childLinks(cid, bytes))
  }
  return order
}
