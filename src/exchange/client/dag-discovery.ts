import * as raw from 'multiformats/codecs/raw'
import { identity } from 'multiformats/hashes/identity'
import { blockKey, childLinks, UnsupportedHashError, isSupportedHash } from '../../content/index.js'
import type { BlockStore } from '../../content/index.js'
import type { QueuedBlock } from './block-queue.js'
import type { CID } from 'multiformats/cid'

/** Blocks whose presence discover() checks at once (stat calls in flight) */
const DISCOVER_BATCH = 64

export interface DagDiscoveryInit {
  store: BlockStore
  signal: AbortSignal
  /** A block that must be fetched */
  onMissing: (block: QueuedBlock) => void
  /** A block already in the store, of `bytes` bytes */
  onLocal: (bytes: number) => void
}

/**
 * Finds the blocks of a DAG that the store lacks. Each block is looked at once per session;
 * blocks already stored (a resumed fetch) are walked locally, so their children are found
 * without fetching anything.
 */
export class DagDiscovery {
  private readonly init: DagDiscoveryInit
  private readonly seen = new Set<string>()

  constructor (init: DagDiscoveryInit) {
    this.init = init
  }

  /** Reports the not-yet-seen blocks among `cids` and below them; throws what the store throws */
  async discover (cids: CID[]): Promise<void> {
    const { store, signal } = this.init
    const work = [...cids]
    while (work.length > 0) {
      // A root's children are looked up together: one at a time, the stat calls of a
      // 256-leaf file kept the first requests waiting for hundreds of milliseconds
      const batch: Array<{ cid: CID, key: string }> = []
      for (const cid of work.splice(0, DISCOVER_BATCH)) {
        const key = blockKey(cid)
        if (this.seen.has(key)) {
          continue
        }
        this.seen.add(key)
        if (!isSupportedHash(cid)) {
          throw new UnsupportedHashError(cid)
        }
        batch.push({ cid, key })
      }
      const sizes = await Promise.all(batch.map(async ({ cid }) => cid.multihash.code === identity.code
        ? cid.multihash.digest.byteLength
        : await store.size(cid, { signal })))
      for (let i = 0; i < batch.length; i++) {
        const { cid, key } = batch[i]
        const size = sizes[i]
        if (size === undefined) {
          this.init.onMissing({ cid, key })
          continue
        }
        let bytes: Uint8Array
        if (cid.multihash.code === identity.code) {
          bytes = cid.multihash.digest
        } else {
          this.init.onLocal(size)
          if (cid.code === raw.code) {
            continue
          }
          bytes = await store.get(cid, { signal })
        }
        // each downloader walks the children in its own random order, so a crowd fetching the
        // same file at once holds different blocks early and can trade them (BitTorrent's
        // random-first); a single download loses nothing by it
        work.push(...shuffled(childLinks(cid, bytes)))
      }
    }
  }
}

function shuffled<T> (items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1))
    const swap = items[i]
    items[i] = items[j]
    items[j] = swap
  }
  return items
}
