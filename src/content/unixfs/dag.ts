import * as dagPb from '@ipld/dag-pb'
import * as raw from 'multiformats/codecs/raw'
import { blockKey } from '../blocks/block-key.js'
import { InvalidBlockError, UnsupportedCodecError } from '../errors.js'
import type { CID } from 'multiformats/cid'

export interface DagBlock {
  cid: CID
  bytes: Uint8Array
}

export interface WalkOptions {
  signal?: AbortSignal
}

/**
 * The CIDs a block links to, in link order (duplicates kept). The exchange uses this to decide
 * what to fetch next, so it must not trust the block: malformed dag-pb → ERR_INVALID_BLOCK,
 * codecs other than dag-pb / raw → ERR_UNSUPPORTED_CODEC. Does not verify the hash; do that first.
 */
export function childLinks (cid: CID, bytes: Uint8Array): CID[] {
  if (cid.code === raw.code) {
    return []
  }
  if (cid.code !== dagPb.code) {
    throw new UnsupportedCodecError(cid)
  }
  let node: dagPb.PBNode
  try {
    node = dagPb.decode(bytes)
  } catch (err) {
    throw new InvalidBlockError(cid, err)
  }
  return node.Links.map(link => link.Hash)
}

/**
 * Depth-first, pre-order walk of the DAG under `root`, children in link order, each distinct block
 * (by multihash) once: identical chunks, such as runs of zeros, are yielded a single time.
 * `getBlock` must throw (e.g. ERR_BLOCK_NOT_FOUND) for an absent block; the walk stops there.
 * Uses an explicit stack so a hostile, very deep DAG cannot overflow the call stack.
 */
export async function * walkDag (root: CID, getBlock: (cid: CID, options: WalkOptions) => Promise<Uint8Array>, options: WalkOptions = {}): AsyncGenerator<DagBlock, void, undefined> {
  const seen = new Set<string>()
  const stack: CID[] = [root]

  while (stack.length > 0) {
    options.signal?.throwIfAborted()
    const cid = stack.pop() as CID
    const key = blockKey(cid)
    if (seen.has(key)) {
      continue
    }
    seen.add(key)

    const bytes = await getBlock(cid, options)
    yield { cid, bytes }

    const links = childLinks(cid, bytes)
    for (let i = links.length - 1; i >= 0; i--) {
      stack.push(links[i])
    }
  }
}

/** Leaves scanDag stats at once */
export const SCAN_STAT_BATCH = 32

export interface ScanStore {
  get(cid: CID, options?: WalkOptions): Promise<Uint8Array>
  size(cid: CID, options?: WalkOptions): Promise<number | undefined>
}

export interface ScannedBlock {
  cid: CID
  /** undefined when the block is not in the store */
  size?: number
}

/**
 * Like walkDag, but for asking "what of this DAG is here?": yields every distinct reachable block
 * with its size, or without one when it is absent (an absent block's children are unknown, so the
 * walk does not go below it). Raw leaves are only stat'ed, never read, so scanning a 10 GiB file
 * reads its ~40 KiB of interior nodes, not 10 GiB.
 */
export async function * scanDag (root: CID, store: ScanStore, options: WalkOptions = {}): AsyncGenerator<ScannedBlock, void, undefined> {
  const seen = new Set<string>()
  const stack: CID[] = [root]

  while (stack.length > 0) {
    options.signal?.throwIfAborted()
    const cid = stack.pop() as CID
    const key = blockKey(cid)
    if (seen.has(key)) {
      continue
    }
    seen.add(key)

    if (cid.code === raw.code) {
      // Its siblings are next on the stack: stat a run of leaves at once, yielded in order. One
      // after the other, a busy daemon waited for its event loop between every two stats.
      const run = [cid]
      while (run.length < SCAN_STAT_BATCH && stack.length > 0 && stack[stack.length - 1].code === raw.code) {
        const next = stack.pop() as CID
        const nextKey = blockKey(next)
        if (seen.has(nextKey)) continue
        seen.add(nextKey)
        run.push(next)
      }
      const sizes = await Promise.all(run.map(async leaf => await store.size(leaf, options)))
      for (let i = 0; i < run.length; i++) {
        yield { cid: run[i], size: sizes[i] }
      }
      continue
    }

    let bytes: Uint8Array
    try {
      bytes = await store.get(cid, options)
    } catch (err) {
      if (isBlockNotFound(err)) {
        yield { cid }
        continue
      }
      throw err
    }
    yield { cid, size: bytes.byteLength }

    const links = childLinks(cid, bytes)
    for (let i = links.length - 1; i >= 0; i--) {
      stack.push(links[i])
    }
  }
}

/** By code, not class: other BlockStore implementations throw plain KizunaErrors */
export function isBlockNotFound (err: unknown): boolean {
  return (err as { code?: unknown })?.code === 'ERR_BLOCK_NOT_FOUND'
}
