import { blockKey, rawCidFromMultihash } from './block-key.js'
import { BlockNotFoundError } from '../errors.js'
import { verifyBlock } from './verify.js'
import type { BlockStoreOptions } from './block-store.js'
import type { BlockEntry, ListableBlockStore } from './listable-block-store.js'
import type { CID } from 'multiformats/cid'

/**
 * A BlockStore in a Map, for tests and benchmarks of other modules. It keeps the same contract as
 * FsBlockStore (verify on put, ERR_BLOCK_NOT_FOUND on a miss, blocks keyed by multihash) so code
 * tested against it behaves the same on disk.
 */
export class InMemoryBlockStore implements ListableBlockStore {
  private readonly blocks = new Map<string, { multihash: Uint8Array, bytes: Uint8Array }>()
  /** put() stores a copy */
  readonly putReleasesBytes = true

  /** Number of stored blocks */
  get count (): number {
    return this.blocks.size
  }

  async has (cid: CID, options?: BlockStoreOptions): Promise<boolean> {
    options?.signal?.throwIfAborted()
    return this.blocks.has(blockKey(cid))
  }

  async get (cid: CID, options?: BlockStoreOptions): Promise<Uint8Array> {
    options?.signal?.throwIfAborted()
    const entry = this.blocks.get(blockKey(cid))
    if (entry == null) {
      throw new BlockNotFoundError(cid)
    }
    // Copies both ways so a caller mutating a buffer (e.g. a test flipping bits) cannot corrupt
    // the store behind verifyBlock's back.
    // Uint8Array.from copies: Buffer.slice would hand out a view of the stored block
    return Uint8Array.from(entry.bytes)
  }

  async put (cid: CID, bytes: Uint8Array, options?: BlockStoreOptions): Promise<void> {
    options?.signal?.throwIfAborted()
    verifyBlock(cid, bytes)
    this.blocks.set(blockKey(cid), { multihash: cid.multihash.bytes, bytes: Uint8Array.from(bytes) })
  }

  async delete (cid: CID, options?: BlockStoreOptions): Promise<void> {
    options?.signal?.throwIfAborted()
    this.blocks.delete(blockKey(cid))
  }

  async size (cid: CID, options?: BlockStoreOptions): Promise<number | undefined> {
    options?.signal?.throwIfAborted()
    return this.blocks.get(blockKey(cid))?.bytes.byteLength
  }

  async * entries (options?: BlockStoreOptions): AsyncGenerator<BlockEntry, void, undefined> {
    for (const { multihash, bytes } of [...this.blocks.values()]) {
      options?.signal?.throwIfAborted()
      yield { cid: rawCidFromMultihash(multihash), size: bytes.byteLength }
    }
  }

  async totalBytes (options?: BlockStoreOptions): Promise<number> {
    options?.signal?.throwIfAborted()
    let total = 0
    for (const { bytes } of this.blocks.values()) {
      total += bytes.byteLength
    }
    return total
  }
}
