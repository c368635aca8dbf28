import type { CID } from 'multiformats/cid'
import type { BlockReference } from './block-references.js'

export interface BlockStoreOptions {
  signal?: AbortSignal
}

export interface ReadIntoOptions extends BlockStoreOptions {
  /**
   * false: skip the store's re-hash on read. For serving only: the receiver hashes every block
   * against its CID anyway (Kubo's HashOnRead is off by default for the same reason), so a block
   * that rotted on disk costs us a penalty at the receiver, never wrong data downstream.
   */
  verify?: boolean
}

export interface PutOptions extends BlockStoreOptions {
  /**
   * The caller has just hashed these bytes against the CID itself (the exchange does, to
   * know whom to penalise): skip the second hash. Anyone else leaves this unset.
   */
  verified?: boolean
  /**
   * The caller found the block absent moments ago (a fetch queues only missing blocks): skip
   * looking for an existing copy before writing. Should one have appeared meanwhile, rewriting
   * the same bytes over it is harmless.
   */
  absent?: boolean
}

/**
 * The narrow block storage every Kizuna component codes against (import, exchange, replication).
 * Implementations must verify on `put` that the bytes hash to the CID, and must make a block
 * either fully present and correct or absent, also after a crash.
 *
 * Blocks are identified by their multihash (see block-key.ts): a raw and a dag-pb CID with the
 * same digest name the same block. Implementations: FsBlockStore (disk), InMemoryBlockStore (tests).
 */
export interface BlockStore {
  has(cid: CID, options?: BlockStoreOptions): Promise<boolean>
  /** Throws a KizunaError with code ERR_BLOCK_NOT_FOUND when absent */
  get(cid: CID, options?: BlockStoreOptions): Promise<Uint8Array>
  /**
   * Optional: like get(), verified the same way, but reads into `target` and returns a view of
   * it when the block fits (a fresh buffer otherwise). Lets a reader that uses each block up
   * before the next (export) recycle a few buffers instead of allocating one per block.
   */
  getInto?(cid: CID, target: Uint8Array, options?: ReadIntoOptions): Promise<Uint8Array>
  /** Throws a KizunaError with code ERR_BLOCK_HASH_MISMATCH when bytes do not match the CID */
  put(cid: CID, bytes: Uint8Array, options?: PutOptions): Promise<void>
  /**
   * True when put() keeps no reference to `bytes` once its promise has settled (it copied them or
   * wrote them out), so the caller may then reuse the buffer. Unset: the store may keep them.
   */
  readonly putReleasesBytes?: boolean
  /** Optional: keep a block as a reference to bytes written elsewhere, re-hashed on every read */
  putReference?(cid: CID, reference: BlockReference, options?: BlockStoreOptions): Promise<void>
  /** Optional: where a block kept by reference lives (undefined when it is stored, or absent) */
  reference?(cid: CID, options?: BlockStoreOptions): Promise<BlockReference | undefined>
  /** Optional: forget a block's reference (a stored copy, if any, stays) */
  deleteReference?(cid: CID, options?: BlockStoreOptions): Promise<void>
  /** Removes the block; one kept by reference loses the reference, never the file it points into */
  delete(cid: CID, options?: BlockStoreOptions): Promise<void>
  /** Size in bytes of a stored block, or undefined when absent */
  size(cid: CID, options?: BlockStoreOptions): Promise<number | undefined>
}
