import * as dagPb from '@ipld/dag-pb'
import { UnixFS } from 'ipfs-unixfs'
import * as raw from 'multiformats/codecs/raw'
import { InvalidDagError, UnsupportedCodecError } from '../errors.js'
import { MAX_BLOCK_SIZE } from '../blocks/verify.js'
import { blockBufferPool } from '../../util/block-buffer-pool.js'
import type { BlockStore } from '../blocks/block-store.js'
import type { CID } from 'multiformats/cid'

/**
 * Blocks read from disk ahead of their consumer (a file being written, or the exchange server's
 * transport, per stream). A few keep the disk, hashing and sending busy at once; each costs one
 * block of memory (1 MiB with our layout), so the server's per-stream memory stays small and a
 * client's deeper window waits there as WANTs. The one read-ahead for both.
 */
export const READ_AHEAD_BLOCKS = 3

export interface FileReadOptions {
  signal?: AbortSignal
  readAhead?: number
  /**
   * Read leaves into a few recycled buffers instead of a fresh one per block. A yielded chunk is
   * then only valid until the consumer asks for the next one, so set this only when every chunk
   * is used up (written) before the next is requested. A fresh 1 MiB buffer costs more than
   * hashing the block (page faults on memory the allocator just got from the kernel).
   */
  reuseBuffers?: boolean
}

/** One piece of the file in order: a leaf block still to read, or bytes already in hand */
type Piece =
  | { kind: 'leaf', cid: CID, size: number }
  | { kind: 'bytes', bytes: Uint8Array }

/**
 * The content of a UnixFS file (dag-pb `file`/`raw` nodes over raw or dag-pb leaves, or a single
 * raw block) in order, with a bounded read-ahead.
 *
 * Replaces ipfs-unixfs-exporter's content() on the export path: that loads every child of a DAG
 * layer at once into an unbounded queue (a 256 MiB file meant ~170 MiB of blocks in memory) and
 * copies each block once more on the way (it-to-buffer). Blocks are still read through the
 * BlockStore, which verifies them against their CIDs.
 *
 * The DAG may come from an untrusted peer, so sizes are checked as the walk goes: every child
 * must hold exactly the bytes its parent's blockSizes claim, and the whole exactly the root's
 * fileSize; anything else is ERR_INVALID_DAG, as is a node that is not a UnixFS file.
 */
export async function * readFileContent (root: CID, store: BlockStore, options: FileReadOptions = {}): AsyncGenerator<Uint8Array, void, undefined> {
  const { signal } = options
  const readAhead = Math.max(1, options.readAhead ?? READ_AHEAD_BLOCKS)
  const pool = options.reuseBuffers === true ? new BufferPool() : undefined
  const plan = walk(root, store, signal)[Symbol.asyncIterator]()
  const pending: Array<Promise<Uint8Array>> = []
  let planDone = false
  let lent: Uint8Array | undefined
  try {
    while (true) {
      if (lent !== undefined) {
        // the consumer came back for more, so it is done with the chunk it was given
        pool?.release(lent)
        lent = undefined
      }
      while (!planDone && pending.length < readAhead) {
        const next = await plan.next()
        if (next.done === true) {
          planDone = true
          break
        }
        const load = loadPiece(next.value, store, pool, signal)
        // awaited in order below; until then a failure must not count as unhandled
        load.catch(() => {})
        pending.push(load)
      }
      const head = pending.shift()
      if (head === undefined) {
        return
      }
      const bytes = await head
      lent = bytes
      yield bytes
    }
  } finally {
    await plan.return?.()
  }
}

async function loadPiece (piece: Piece, store: BlockStore, pool: BufferPool | undefined, signal?: AbortSignal): Promise<Uint8Array> {
  if (piece.kind === 'bytes') {
    return piece.bytes
  }
  const target = pool?.take()
  let bytes: Uint8Array
  try {
    bytes = target !== undefined && store.getInto !== undefined
      ? await store.getInto(piece.cid, target, { signal })
      : await store.get(piece.cid, { signal })
  } catch (err) {
    if (target !== undefined) pool?.release(target)
    throw err
  }
  if (target !== undefined && bytes.buffer !== target.buffer) {
    // the store did not use it (no getInto, or a file larger than any valid block)
    pool?.release(target)
  }
  if (bytes.byteLength !== piece.size) {
    throw new InvalidDagError(piece.cid, new Error(`leaf holds ${bytes.byteLength} bytes, its parent says ${piece.size}`))
  }
  return bytes
}

/**
 * The file's pieces in order. Interior dag-pb nodes are read here (they are small); raw leaves
 * are only named, for the reader to load ahead. Depth-first with an explicit stack.
 */
async function * walk (root: CID, store: BlockStore, signal?: AbortSignal): AsyncGenerator<Piece, void, undefined> {
  if (root.code === raw.code) {
    const size = await store.size(root, { signal })
    // absent: let the load report ERR_BLOCK_NOT_FOUND
    yield { kind: 'leaf', cid: root, size: size ?? -1 }
    return
  }
  const rootNode = await readNode(root, store, signal)
  const total = rootNode.unixfs.fileSize()
  let emitted = 0n
  // each frame: a node's children still to visit, and what each must add up to
  const stack: Array<{ cid: CID, links: dagPb.PBLink[], sizes: bigint[], next: number }> = []
  const enter = async function * (cid: CID, node: DecodedNode): AsyncGenerator<Piece, void, undefined> {
    const data = node.unixfs.data
    if (data !== undefined && data.byteLength > 0) {
      emitted += BigInt(data.byteLength)
      yield { kind: 'bytes', bytes: data }
    }
    if (node.pb.Links.length > 0) {
      stack.push({ cid, links: node.pb.Links, sizes: node.unixfs.blockSizes, next: 0 })
    }
  }
  yield * enter(root, rootNode)
  while (stack.length > 0) {
    signal?.throwIfAborted()
    const frame = stack[stack.length - 1]
    if (frame.next >= frame.links.length) {
      stack.pop()
      continue
    }
    const i = frame.next++
    const child = frame.links[i].Hash
    const size = frame.sizes[i]
    if (size > BigInt(Number.MAX_SAFE_INTEGER)) {
      throw new InvalidDagError(frame.cid, new Error(`child ${i} claims ${size} bytes`))
    }
    if (child.code === raw.code) {
      if (size > BigInt(MAX_BLOCK_SIZE)) {
        throw new InvalidDagError(frame.cid, new Error(`raw child ${i} claims ${size} bytes, more than a block`))
      }
      emitted += size
      yield { kind: 'leaf', cid: child, size: Number(size) }
    } else if (child.code === dagPb.code) {
      const node = await readNode(child, store, signal)
      if (node.unixfs.fileSize() !== size) {
        throw new InvalidDagError(child, new Error(`holds ${node.unixfs.fileSize()} bytes, its parent says ${size}`))
      }
      yield * enter(child, node)
    } else {
      throw new UnsupportedCodecError(child)
    }
    if (emitted > total) {
      break
    }
  }
  if (emitted !== total) {
    throw new InvalidDagError(root, new Error(`the DAG holds ${emitted > total ? 'more' : 'fewer'} bytes than the root's size ${total}`))
  }
}

export interface DecodedNode { pb: dagPb.PBNode, unixfs: UnixFS }

async function readNode (cid: CID, store: BlockStore, signal?: AbortSignal): Promise<DecodedNode> {
  const node = decodeUnixfsNode(cid, await store.get(cid, { signal }))
  checkFilePart(cid, node)
  return node
}

/** A dag-pb block as a UnixFS node; ERR_INVALID_DAG when it is not one */
export function decodeUnixfsNode (cid: CID, bytes: Uint8Array): DecodedNode {
  try {
    const pb = dagPb.decode(bytes)
    if (pb.Data === undefined) {
      throw new Error('no UnixFS data in the dag-pb node')
    }
    return { pb, unixfs: UnixFS.unmarshal(pb.Data) }
  } catch (err) {
    throw new InvalidDagError(cid, err)
  }
}

/** True for the UnixFS node types a file is made of */
export function isFilePart (node: DecodedNode): boolean {
  return node.unixfs.type === 'file' || node.unixfs.type === 'raw'
}

/** ERR_INVALID_DAG unless the node can stand in a file: a file part, with one block size per link */
export function checkFilePart (cid: CID, node: DecodedNode): void {
  if (!isFilePart(node)) {
    throw new InvalidDagError(cid, new Error(`a ${node.unixfs.type} node inside a file`))
  }
  if (node.pb.Links.length !== node.unixfs.blockSizes.length) {
    throw new InvalidDagError(cid, new Error(`${node.pb.Links.length} links but ${node.unixfs.blockSizes.length} block sizes`))
  }
}

/**
 * Read-ahead buffers from the process-wide block pool (shared with the exchange, so an export
 * right after a fetch reuses the fetch's buffers). A leaf larger than a pooled buffer is read
 * into a fresh one by the store.
 */
class BufferPool {
  take (): Uint8Array {
    return blockBufferPool.take(blockBufferPool.bufferSize)
  }

  /** Takes back a buffer from take(), or a view of one; anything else is ignored */
  release (view: Uint8Array): void {
    blockBufferPool.release(view)
  }
}
