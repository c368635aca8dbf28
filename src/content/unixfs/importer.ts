import fs from 'node:fs/promises'
import path from 'node:path'
import { importer } from 'ipfs-unixfs-importer'
import * as dagPb from '@ipld/dag-pb'
import { KizunaError } from '../../errors.js'
import { blockKey } from '../blocks/block-key.js'
import { AsyncQueue } from '../../util/async-queue.js'
import { scanDag } from './dag.js'
import { fsError, scanSource } from './fs-source.js'
import { CHUNK_SIZE, importerOptions } from './layout.js'
import { blockBufferPool } from '../../util/block-buffer-pool.js'
import { noteTransferBytes } from '../../util/gc-pacer.js'
import type { BlockStore } from '../blocks/block-store.js'
import type { SkipReason } from './fs-source.js'
import type { BlockRef, ContentIndex, ContentKind, ContentRecord } from '../roots/content-index.js'
import type { ImportCandidate } from 'ipfs-unixfs-importer'
import type { CID } from 'multiformats/cid'

export interface ImportProgressEvent {
  type: 'import:progress'
  /** content bytes read so far */
  bytes: number
  totalBytes: number
}

export interface ImportSkippedEvent {
  type: 'import:skipped'
  path: string
  reason: SkipReason
}

export interface ImportDoneEvent {
  type: 'import:done'
  cid: CID
  /** logical bytes imported (file length, or the sum over a directory's files) */
  size: number
  /** distinct blocks in the DAG */
  blocks: number
  blockBytes: number
  record: ContentRecord
}

export type ImportEvent = ImportProgressEvent | ImportSkippedEvent | ImportDoneEvent

export interface ImportComponents {
  blockStore: BlockStore
  index: ContentIndex
}

export interface ImportOptions {
  signal?: AbortSignal
  /** default 'pinned'. Re-adding a pinned root as 'cached' keeps it pinned */
  kind?: ContentKind
  /** display name; defaults to the file or directory's base name */
  name?: string
}

/** What to feed the importer, decided before any block is written */
interface ImportPlan {
  name?: string
  totalBytes: number
  skipped: ImportSkippedEvent[]
  candidates: (onBytes: (n: number) => void, signal: AbortSignal) => Iterable<ImportCandidate>
}

/**
 * Execution knobs of ipfs-unixfs-importer (they do not change CIDs, unlike layout.ts). Its
 * defaults, 50 files at a time each writing 10 blocks per batch, can buffer 50 x 10 x 1 MiB of
 * chunks; these cap that at 32 x 4 MiB: no slower, lower peak memory (docs/design-notes.md).
 */
const FILE_IMPORT_CONCURRENCY = 32
const BLOCK_WRITE_CONCURRENCY = 4

// Directory entries are given to the importer under this placeholder so the tree builder returns
// one directory root; a directory's CID does not depend on its own name.
const DIR_ROOT = 'root'

/**
 * Imports a file or directory (recursively) and records it in the index. Yields progress events
 * and finally `import:done`. The root and its blocks become visible in the index only at the
 * end; if anything fails or the consumer stops early, blocks this import wrote that no indexed root
 * uses are deleted again. See fs-source.ts for what is skipped inside directories.
 *
 * Errors: ERR_PATH_NOT_FOUND, ERR_PATH_UNREADABLE (both name the path), block store errors, or the
 * signal's reason on abort.
 */
export async function * importPath (input: string, components: ImportComponents, options: ImportOptions = {}): AsyncGenerator<ImportEvent, void, undefined> {
  const tree = await scanSource(input, options)
  const name = options.name ?? path.basename(tree.path)

  let plan: ImportPlan
  if (tree.type === 'file') {
    plan = {
      name,
      totalBytes: tree.totalBytes,
      skipped: [],
      candidates: (onBytes, signal) => [{ content: readFile(tree.path, onBytes, signal) }]
    }
  } else {
    plan = {
      name,
      totalBytes: tree.totalBytes,
      skipped: tree.skipped.map(s => ({ type: 'import:skipped', path: s.path, reason: s.reason })),
      candidates: (onBytes, signal) => {
        if (tree.entries.length === 0) {
          return [{ path: DIR_ROOT }]
        }
        // Only empty directories are passed as directory candidates: the others are implied by
        // their files' paths, and a directory candidate writes an empty-directory block that would
        // be garbage whenever the directory turns out to have contents.
        return tree.entries
          .filter(e => e.type === 'file' || e.empty)
          .map(e => e.type === 'file'
            ? { path: `${DIR_ROOT}/${e.relativePath}`, content: readFile(e.absolutePath, onBytes, signal) }
            : { path: `${DIR_ROOT}/${e.relativePath}` })
      }
    }
  }

  yield * runImport(plan, components, options)
}

/** Imports bytes held in memory as one file (tests, benchmarks, small API uploads) */
export async function * importBytes (bytes: Uint8Array, components: ImportComponents, options: ImportOptions = {}): AsyncGenerator<ImportEvent, void, undefined> {
  yield * runImport({
    name: options.name,
    totalBytes: bytes.byteLength,
    skipped: [],
    candidates: (onBytes, signal) => [{
      content: (function * () {
        for (let offset = 0; offset < bytes.byteLength; offset += CHUNK_SIZE) {
          signal.throwIfAborted()
          const chunk = bytes.subarray(offset, offset + CHUNK_SIZE)
          onBytes(chunk.byteLength)
          yield chunk
        }
      })()
    }]
  }, components, options)
}

/**
 * Imports a byte stream as one file — for content transformed on the way in (encryption),
 * where no file on disk holds the bytes to be stored. `totalBytes` is for progress only.
 */
export async function * importStream (source: AsyncIterable<Uint8Array>, totalBytes: number, components: ImportComponents, options: ImportOptions = {}): AsyncGenerator<ImportEvent, void, undefined> {
  yield * runImport({
    name: options.name,
    totalBytes,
    skipped: [],
    candidates: (onBytes, signal) => [{
      content: (async function * () {
        for await (const chunk of source) {
          signal.throwIfAborted()
          onBytes(chunk.byteLength)
          yield chunk
        }
      })()
    }]
  }, components, options)
}

async function * runImport (plan: ImportPlan, components: ImportComponents, options: ImportOptions): AsyncGenerator<ImportEvent, void, undefined> {
  const { blockStore, index } = components
  yield * plan.skipped

  // Aborted by the caller's signal, or by us when the consumer leaves early, so the importer's
  // file reads and block writes stop before we release the lock.
  const controller = new AbortController()
  const signal = options.signal == null ? controller.signal : AbortSignal.any([options.signal, controller.signal])
  const recorder = new RecordingStore(blockStore, signal)
  const events = new AsyncQueue<ImportEvent>()
  let bytes = 0
  const onBytes = (n: number): void => {
    bytes += n
    // An import allocates like a transfer, so it gets the same scavenge pacing (where the daemon
    // turned it on); in-flight chunks come from the pool so paced scavenges do not promote them.
    noteTransferBytes(n)
    events.push({ type: 'import:progress', bytes, totalBytes: plan.totalBytes }, { latest: true })
  }

  const release = await index.lock.shared({ signal })
  let done: ImportDoneEvent | undefined
  let strays: Map<string, CID> = recorder.fresh
  const pump = (async (): Promise<ImportDoneEvent> => {
    let root: CID | undefined
    for await (const entry of importer(plan.candidates(onBytes, signal), recorder, {
      ...importerOptions(),
      fileImportConcurrency: FILE_IMPORT_CONCURRENCY,
      blockWriteConcurrency: BLOCK_WRITE_CONCURRENCY
    })) {
      root = entry.cid
    }
    if (root == null) {
      throw new KizunaError('ERR_IMPORT_FAILED', 'the importer produced no root')
    }
    const refs = await dagBlocks(root, recorder, blockStore, signal)
    const record = await recordRoot(index, root, refs, bytes, plan.name, options.kind ?? 'pinned', signal)
    // Anything written that the DAG does not use (should not happen) is cleaned up like a failure.
    const used = new Set(refs.map(r => blockKey(r.cid)))
    strays = new Map([...recorder.fresh].filter(([key]) => !used.has(key)))
    return { type: 'import:done', cid: root, size: bytes, blocks: refs.length, blockBytes: record.blockBytes, record }
  })()
  pump.then(() => { events.end() }, (err) => { events.end(err) })

  try {
    yield { type: 'import:progress', bytes: 0, totalBytes: plan.totalBytes }
    yield * events
    done = await pump
  } finally {
    controller.abort()
    await pump.catch(() => {})
    release()
    await discardUnreferenced(strays, components)
  }
  yield done
}

/**
 * Wraps the block store for the importer: records what it writes, which blocks were new (only
 * those may be deleted if the import fails), and keeps interior nodes for the membership walk.
 */
class RecordingStore {
  readonly fresh = new Map<string, CID>()
  readonly written = new Map<string, BlockRef>()
  readonly nodes = new Map<string, Uint8Array>()

  constructor (private readonly store: BlockStore, private readonly signal: AbortSignal) {}

  async put (cid: CID, bytes: Uint8Array): Promise<CID> {
    this.signal.throwIfAborted()
    const key = blockKey(cid)
    if (!this.written.has(key) && !this.fresh.has(key) && !(await this.store.has(cid, { signal: this.signal }))) {
      this.fresh.set(key, cid)
    }
    // the importer has just computed cid from these bytes: hashing them again here is waste
    await this.store.put(cid, bytes, { signal: this.signal, verified: true })
    this.written.set(key, { cid, size: bytes.byteLength })
    if (cid.code === dagPb.code) {
      this.nodes.set(key, bytes)
    }
    // A chunk read by readFile from the pool is the whole of its buffer (see there), and the
    // importer keeps no reference to a leaf's bytes once they are stored: the buffer can go back.
    blockBufferPool.release(bytes)
    return cid
  }
}

/** The distinct blocks under root, from what this import wrote (falling back to the store) */
async function dagBlocks (root: CID, recorder: RecordingStore, store: BlockStore, signal: AbortSignal): Promise<BlockRef[]> {
  const refs: BlockRef[] = []
  const view = {
    get: async (cid: CID) => recorder.nodes.get(blockKey(cid)) ?? store.get(cid, { signal }),
    size: async (cid: CID) => recorder.written.get(blockKey(cid))?.size ?? store.size(cid, { signal })
  }
  for await (const block of scanDag(root, view, { signal })) {
    if (block.size == null) {
      throw new KizunaError('ERR_IMPORT_FAILED', `block ${block.cid.toString()} of the imported DAG ${root.toString()} is missing`)
    }
    refs.push({ cid: block.cid, size: block.size })
  }
  return refs
}

async function recordRoot (index: ContentIndex, cid: CID, refs: BlockRef[], size: number, name: string | undefined, kind: ContentKind, signal: AbortSignal): Promise<ContentRecord> {
  const existing = await index.get(cid, { signal })
  const now = Date.now()
  const record: ContentRecord = {
    cid,
    kind: existing?.kind === 'pinned' ? 'pinned' : kind,
    size,
    blocks: refs.length,
    blockBytes: refs.reduce((sum, r) => sum + r.size, 0),
    addedAt: existing?.addedAt ?? now,
    lastAccess: now
  }
  const recordName = name ?? existing?.name
  if (recordName != null) {
    record.name = recordName
  }
  await index.put(record, refs, { signal })
  return record
}

/**
 * Deletes blocks that no indexed root references. Takes the lock exclusively, so concurrent
 * imports that share a block either finish and reference it first or have not started writing.
 * Best effort: a failure here must not hide the error that got us here.
 */
async function discardUnreferenced (blocks: Map<string, CID>, components: ImportComponents): Promise<void> {
  if (blocks.size === 0) {
    return
  }
  try {
    const release = await components.index.lock.exclusive()
    try {
      const referenced = await components.index.referencedBlocks()
      for (const [key, cid] of blocks) {
        if (!referenced.has(key)) {
          await components.blockStore.delete(cid)
        }
      }
    } finally {
      release()
    }
  } catch {
    // Leaked blocks only cost disk space: nothing references them, so nothing reads them.
  }
}

/**
 * Reads a file in chunks of at most CHUNK_SIZE, reporting bytes as they are read. Reads exactly
 * the length the file had when opened (a file growing during the import is taken as of then), and
 * sizes each buffer to what is left: a 1 MiB buffer per read of a 5-byte file made importing many
 * small files several times slower in garbage collection alone.
 */
async function * readFile (file: string, onBytes: (n: number) => void, signal: AbortSignal): AsyncGenerator<Uint8Array, void, undefined> {
  let handle
  try {
    handle = await fs.open(file, 'r')
  } catch (err) {
    throw fsError(file, err)
  }
  try {
    let remaining = (await handle.stat()).size
    // Multi-chunk files read into pooled buffers, released once stored (RecordingStore.put). Each
    // read is at most one chunk, so the fixed-size chunker hands on either a whole buffer as one
    // chunk or, after a short read, a copy: never part of a buffer whose rest is still pending.
    // A single-chunk file's leaf may be kept by the importer for its root, so it is not pooled.
    const pooled = remaining > CHUNK_SIZE
    while (remaining > 0) {
      signal.throwIfAborted()
      const size = Math.min(CHUNK_SIZE, remaining)
      const buffer = pooled ? blockBufferPool.take(size) : Buffer.allocUnsafe(size)
      const { bytesRead } = await handle.read(buffer, 0, buffer.byteLength, null)
      if (bytesRead === 0) {
        break // truncated since we opened it
      }
      remaining -= bytesRead
      onBytes(bytesRead)
      yield buffer.subarray(0, bytesRead)
    }
  } catch (err) {
    signal.throwIfAborted()
    throw fsError(file, err)
  } finally {
    await handle.close()
  }
}
