import { blockKey } from '../blocks/block-key.js'
import { scanDag } from '../unixfs/dag.js'
import type { ListableBlockStore } from '../blocks/listable-block-store.js'
import type { ContentIndex } from './content-index.js'
import type { CID } from 'multiformats/cid'

/**
 * Blocks written this recently are never collected: they may belong to a download in progress
 * that gc was not told about, or to one a kill -9 interrupted and a get will resume. Older
 * unkept blocks are what a crash during `add` or `get` left behind.
 */
export const DEFAULT_GC_GRACE_MS = 60 * 60_000

export interface GcOptions {
  signal?: AbortSignal
  /** Blocks younger than this stay (DEFAULT_GC_GRACE_MS) */
  graceMs?: number
  /** Roots being fetched now: their local blocks stay, however old */
  keep?: CID[]
}

export interface GcResult {
  freedBlocks: number
  freedBytes: number
  /** Unkept blocks left because they are younger than the grace time or in use */
  keptYoung: number
  durationMs: number
}

/**
 * Deletes every block no kept root needs, except young ones and those of `keep`. The caller
 * holds the index's lock exclusively, so no import (which holds it shared until its root is
 * recorded) is running: an import's blocks are either recorded or orphans.
 */
export async function collectGarbage (blockStore: ListableBlockStore, index: ContentIndex, options: GcOptions = {}): Promise<GcResult> {
  const started = Date.now()
  const graceMs = options.graceMs ?? DEFAULT_GC_GRACE_MS
  const needed = new Set((await index.referencedBlocks(options)).keys())
  for (const root of options.keep ?? []) {
    for await (const block of scanDag(root, blockStore, options)) {
      needed.add(blockKey(block.cid))
    }
  }
  const result: GcResult = { freedBlocks: 0, freedBytes: 0, keptYoung: 0, durationMs: 0 }
  const doomed: Array<{ cid: CID, size: number, referenced: boolean }> = []
  for await (const entry of blockStore.entries(options)) {
    if (needed.has(blockKey(entry.cid))) continue
    if (entry.mtimeMs === undefined || started - entry.mtimeMs < graceMs) {
      result.keptYoung++
      continue
    }
    doomed.push({ cid: entry.cid, size: entry.size, referenced: entry.referenced === true })
  }
  for (const block of doomed) {
    options.signal?.throwIfAborted()
    await blockStore.delete(block.cid)
    result.freedBlocks++
    // a reference costs the store no space: the file it points into is the user's
    if (!block.referenced) result.freedBytes += block.size
  }
  result.durationMs = Date.now() - started
  return result
}
