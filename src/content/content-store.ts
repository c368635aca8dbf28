import { KizunaError } from '../errors.js'
import { blockKey } from './blocks/block-key.js'
import { scanDag } from './unixfs/dag.js'
import { possessionProof } from './blocks/possession.js'
import { ContentNotFoundError } from './errors.js'
import { exportTo } from './unixfs/exporter.js'
import { importStream, importBytes, importPath } from './unixfs/importer.js'
import { unixfsSize } from './unixfs/unixfs-size.js'
import type { BlockStore } from './blocks/block-store.js'
import type { ExportEvent, ExportOptions } from './unixfs/exporter.js'
import type { ImportEvent, ImportOptions } from './unixfs/importer.js'
import type { ListableBlockStore } from './blocks/listable-block-store.js'
import type { BlockRef, ContentIndex, ContentKind, ContentRecord } from './roots/content-index.js'
import type { CID } from 'multiformats/cid'

export interface ContentStoreComponents {
  blockStore: BlockStore
  index: ContentIndex
}

export interface ContentOptions {
  signal?: AbortSignal
}

export interface ContentStat {
  cid: CID
  /** undefined when the root is not in the index (e.g. a download still in progress) */
  record?: ContentRecord
  /** every block of the DAG is local */
  complete: boolean
  localBlocks: number
  localBytes: number
  /** absent blocks whose parent is local; deeper absent blocks cannot be known yet */
  missingBlocks: number
}

export interface ContentUsage {
  /** bytes of distinct blocks needed by at least one pinned root */
  pinnedBytes: number
  /** bytes of distinct blocks needed only by cached roots (what eviction can reclaim) */
  cachedBytes: number
  pinnedRoots: number
  cachedRoots: number
  /** everything in the block store, referenced or not, when the store can list itself */
  storeBytes?: number
}

export interface RemoveResult {
  cid: CID
  freedBlocks: number
  freedBytes: number
}

/**
 * Local content as the rest of Kizuna sees it: DAGs in a block store, and an index saying which
 * roots are kept (pinned or cached) and which blocks they need. Removing a root frees exactly the
 * blocks no other kept root uses. The exchange uses hasAll/missingBlocks to resume a download
 * and record() to keep it once complete.
 */
export class ContentStore {
  private readonly blockStore: BlockStore
  private readonly index: ContentIndex

  constructor (components: ContentStoreComponents) {
    this.blockStore = components.blockStore
    this.index = components.index
  }

  /** Imports a path (file or directory) or in-memory bytes; see importPath for the events */
  add (source: string | Uint8Array, options: ImportOptions = {}): AsyncGenerator<ImportEvent, void, undefined> {
    const components = { blockStore: this.blockStore, index: this.index }
    return typeof source === 'string'
      ? importPath(source, components, options)
      : importBytes(source, components, options)
  }

  /** The blocks a kept root consists of (undefined when the root is not kept) */
  /** sha256(nonce ‖ block) when the block is here (see possession.ts), else undefined */
  async prove (block: CID, nonceHex: string, options: ContentOptions = {}): Promise<string | undefined> {
    const bytes = await this.blockStore.get(block, options).catch(() => undefined)
    return bytes === undefined ? undefined : possessionProof(nonceHex, bytes)
  }

  async blockRefs (cid: CID, options: ContentOptions = {}): Promise<BlockRef[] | undefined> {
    return this.index.blocks(cid, options)
  }

  /** Marks a kept root as used now (serving it counts), for the cache's recency */
  async touch (cid: CID, options: ContentOptions = {}): Promise<void> {
    await this.index.touch(cid, options)
  }

  /** Imports a byte stream as one file (content transformed on the way in, e.g. encrypted) */
  addStream (source: AsyncIterable<Uint8Array>, totalBytes: number, options: ImportOptions = {}): AsyncGenerator<ImportEvent, void, undefined> {
    return importStream(source, totalBytes, { blockStore: this.blockStore, index: this.index }, options)
  }

  /** Writes a kept or complete DAG to disk (see exportTo) and marks it as accessed */
  async * export (cid: CID, outPath: string, options: ExportOptions = {}): AsyncGenerator<ExportEvent, void, undefined> {
    yield * exportTo(cid, outPath, { blockStore: this.blockStore }, options)
    await this.index.touch(cid, options)
  }

  /** All kept roots, oldest first */
  async list (options: ContentOptions = {}): Promise<ContentRecord[]> {
    const records: ContentRecord[] = []
    for await (const record of this.index.list(options)) {
      records.push(record)
    }
    return records.sort((a, b) => a.addedAt - b.addedAt || a.cid.toString().localeCompare(b.cid.toString()))
  }

  async get (cid: CID, options: ContentOptions = {}): Promise<ContentRecord | undefined> {
    return this.index.get(cid, options)
  }

  /** Pins a cached root or demotes a pinned one to cached; ERR_CONTENT_NOT_FOUND if not kept */
  async setKind (cid: CID, kind: ContentKind, options: ContentOptions = {}): Promise<ContentRecord> {
    const record = await this.index.update(cid, { kind }, options)
    if (record == null) {
      throw new ContentNotFoundError(cid)
    }
    return record
  }

  /**
   * Forgets a root and deletes its blocks that no other kept root uses. ERR_CONTENT_NOT_FOUND if
   * the root is not kept. Holds the GC lock exclusively, so it waits for running imports.
   */
  async remove (cid: CID, options: ContentOptions = {}): Promise<RemoveResult> {
    const release = await this.index.lock.exclusive(options)
    try {
      const blocks = await this.index.blocks(cid, options)
      if (blocks == null || !(await this.index.has(cid, options))) {
        throw new ContentNotFoundError(cid)
      }
      const stillNeeded = await this.index.referencedBlocks({ ...options, except: [cid] })
      options.signal?.throwIfAborted()

      // Index first: a crash between the two steps leaks blocks instead of leaving a kept root
      // with holes. No abort checks past this point, for the same reason.
      await this.index.delete(cid)
      const result: RemoveResult = { cid, freedBlocks: 0, freedBytes: 0 }
      for (const ref of blocks) {
        if (stillNeeded.has(blockKey(ref.cid))) {
          continue
        }
        const size = await this.blockStore.size(ref.cid)
        if (size !== undefined) {
          await this.blockStore.delete(ref.cid)
          result.freedBlocks++
          result.freedBytes += size
        }
      }
      return result
    } finally {
      release()
    }
  }

  /** What of the DAG under `cid` is local, plus its index record if kept */
  async stat (cid: CID, options: ContentOptions = {}): Promise<ContentStat> {
    const stat: ContentStat = { cid, complete: true, localBlocks: 0, localBytes: 0, missingBlocks: 0 }
    const record = await this.index.get(cid, options)
    if (record != null) {
      stat.record = record
    }
    for await (const block of scanDag(cid, this.blockStore, options)) {
      if (block.size === undefined) {
        stat.complete = false
        stat.missingBlocks++
      } else {
        stat.localBlocks++
        stat.localBytes += block.size
      }
    }
    return stat
  }

  /** Is the whole DAG under `root` in the block store? Stops at the first absent block */
  async hasAll (root: CID, options: ContentOptions = {}): Promise<boolean> {
    for await (const block of scanDag(root, this.blockStore, options)) {
      if (block.size === undefined) {
        return false
      }
    }
    return true
  }

  /**
   * The absent blocks reachable through local ones, in DAG order: what a resumed download must
   * fetch next. Blocks below an absent one are unknown until it arrives, so fetch, store, and ask
   * again (or follow childLinks) until this is empty.
   */
  async missingBlocks (root: CID, options: ContentOptions = {}): Promise<CID[]> {
    const missing: CID[] = []
    for await (const block of scanDag(root, this.blockStore, options)) {
      if (block.size === undefined) {
        missing.push(block.cid)
      }
    }
    return missing
  }

  /**
   * Keeps a DAG whose blocks were put into the block store by someone else (the exchange, after a
   * download). ERR_DAG_INCOMPLETE if any block is missing. `size` (logical bytes) is computed
   * from the DAG when not given.
   */
  async record (root: CID, options: ContentOptions & { kind?: ContentKind, name?: string, size?: number } = {}): Promise<ContentRecord> {
    const release = await this.index.lock.shared(options)
    try {
      const refs: BlockRef[] = []
      for await (const block of scanDag(root, this.blockStore, options)) {
        if (block.size === undefined) {
          throw new KizunaError('ERR_DAG_INCOMPLETE', `cannot keep ${root.toString()}: block ${block.cid.toString()} is not local`)
        }
        refs.push({ cid: block.cid, size: block.size })
      }
      const existing = await this.index.get(root, options)
      const now = Date.now()
      const blockBytes = refs.reduce((sum, r) => sum + r.size, 0)
      const record: ContentRecord = {
        cid: root,
        kind: existing?.kind === 'pinned' ? 'pinned' : (options.kind ?? 'cached'),
        size: options.size ?? existing?.size ?? await unixfsSize(root, this.blockStore, options),
        blocks: refs.length,
        blockBytes,
        addedAt: existing?.addedAt ?? now,
        lastAccess: now
      }
      const name = options.name ?? existing?.name
      if (name != null) {
        record.name = name
      }
      await this.index.put(record, refs, options)
      return record
    } finally {
      release()
    }
  }

  /** Bytes kept, split by why they are kept; blocks shared between roots are counted once */
  async usage (options: ContentOptions = {}): Promise<ContentUsage> {
    const usage: ContentUsage = { pinnedBytes: 0, cachedBytes: 0, pinnedRoots: 0, cachedRoots: 0 }
    for await (const record of this.index.list(options)) {
      if (record.kind === 'pinned') {
        usage.pinnedRoots++
      } else {
        usage.cachedRoots++
      }
    }
    for (const block of (await this.index.referencedBlocks(options)).values()) {
      if (block.pinned) {
        usage.pinnedBytes += block.size
      } else {
        usage.cachedBytes += block.size
      }
    }
    const listable = this.blockStore as Partial<ListableBlockStore>
    if (typeof listable.totalBytes === 'function') {
      usage.storeBytes = await listable.totalBytes(options)
    }
    return usage
  }
}
