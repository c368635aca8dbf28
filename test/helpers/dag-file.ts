import { createHash } from 'node:crypto'
import * as raw from 'multiformats/codecs/raw'
import { childLinks } from '../../src/content/dag.js'
import type { BlockStore } from '../../src/content/block-store.js'
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
