import type { BlockStore, BlockStoreOptions } from './block-store.js'
import type { CID } from 'multiformats/cid'

export interface BlockEntry {
  /**
   * CIDv1 *raw* rebuilt from the stored multihash: stores key blocks by multihash only (see
   * block-key.ts), so compare with blockKey(), never with CID.equals against a dag-pb CID.
   */
  cid: CID
  size: number
  /** Kept by reference to a file outside the store (see FsBlockStore): costs the store no space */
  referenced?: boolean
}

/** A BlockStore that can enumerate what it holds: for quota accounting and garbage sweeps */
export interface ListableBlockStore extends BlockStore {
  entries(options?: BlockStoreOptions): AsyncGenerator<BlockEntry, void, undefined>
  /** Sum of the sizes of all blocks the store holds itself (not those kept by reference) */
  totalBytes(options?: BlockStoreOptions): Promise<number>
}
