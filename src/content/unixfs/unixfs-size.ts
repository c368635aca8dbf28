import * as dagPb from '@ipld/dag-pb'
import { UnixFS } from 'ipfs-unixfs'
import * as raw from 'multiformats/codecs/raw'
import { blockKey } from '../blocks/block-key.js'
import { InvalidDagError, UnsupportedCodecError } from '../errors.js'
import type { ScanStore, WalkOptions } from './dag.js'
import type { CID } from 'multiformats/cid'

/**
 * Logical size of a local UnixFS DAG: a file's length, or the sum of the file lengths in a
 * directory tree (a file present twice counts twice, as `du --apparent-size` would).
 * Only directory nodes and file roots are read; raw leaves are only stat'ed.
 *
 * Memoised per block, so a hostile "diamond" DAG that links one subdirectory many times over
 * costs linear, not exponential, time.
 */
export async function unixfsSize (root: CID, store: ScanStore, options: WalkOptions = {}): Promise<number> {
  const memo = new Map<string, number>()

  const sizeOf = async (cid: CID): Promise<number> => {
    options.signal?.throwIfAborted()
    const key = blockKey(cid)
    const known = memo.get(key)
    if (known !== undefined) {
      return known
    }

    let size: number
    if (cid.code === raw.code) {
      size = (await store.size(cid, options)) ?? 0
    } else if (cid.code === dagPb.code) {
      let node: dagPb.PBNode
      let unixfs: UnixFS
      try {
        node = dagPb.decode(await store.get(cid, options))
        unixfs = UnixFS.unmarshal(node.Data ?? new Uint8Array())
      } catch (err) {
        if ((err as { code?: unknown }).code === 'ERR_BLOCK_NOT_FOUND') {
          throw err
        }
        throw new InvalidDagError(cid, err)
      }
      if (unixfs.isDirectory()) {
        size = 0
        // HAMT shards link sub-shards, which are directory nodes too, so this covers them.
        for (const link of node.Links) {
          size += await sizeOf(link.Hash)
        }
      } else {
        size = Number(unixfs.fileSize())
      }
    } else {
      throw new UnsupportedCodecError(cid)
    }
    memo.set(key, size)
    return size
  }

  return sizeOf(root)
}
