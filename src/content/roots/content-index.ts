import { Key } from 'interface-datastore'
import { varint } from 'multiformats'
import { CID } from 'multiformats/cid'
import { KizunaError } from '../../errors.js'
import { createLru } from '../../util/lru.js'
import { blockKey } from '../blocks/block-key.js'
import { RwLock } from './rw-lock.js'
import type { Datastore } from 'interface-datastore'

/** `pinned`: the user asked to keep it. `cached`: fetched or kept on the side, evictable by quota */
export type ContentKind = 'pinned' | 'cached'

export interface ContentRecord {
  /** the DAG's root, as it was added */
  cid: CID
  kind: ContentKind
  /** logical size: the file's length, or the sum of file lengths in a directory */
  size: number
  /** distinct blocks in the DAG */
  blocks: number
  /** sum of those blocks' sizes: the DAG's disk cost if it shared no block with another root */
  blockBytes: number
  /** file or directory name at import time, for display */
  name?: string
  /** ms since the epoch */
  addedAt: number
  /** ms since the epoch; bumped by touch() when the content is exported or served */
  lastAccess: number
}

export interface BlockRef {
  cid: CID
  size: number
}

export interface IndexOptions {
  signal?: AbortSignal
}

export interface ContentIndexComponents {
  /** the node passes its datastore-level instance; tests a MemoryDatastore */
  datastore: Datastore
}

export interface ReferencedBlock {
  size: number
  /** referenced by at least one pinned root (otherwise only by cached ones) */
  pinned: boolean
}

/** Records kept decoded (hashlru: between this and twice this, least recently used go first) */
const MAX_CACHED_RECORDS = 4096

const PREFIX = '/kizuna/content'
const ROOTS = `${PREFIX}/roots/`
const BLOCKS = `${PREFIX}/blocks/`

/**
 * Which DAG roots this node keeps, and which blocks each of them needs.
 *
 * Layout under `/kizuna/content/`:
 *   roots/<cidv1>   JSON record (ContentRecord with the CID as a string)
 *   blocks/<cidv1>  the root's distinct blocks as repeated (varint size, CID bytes)
 * Both keys of a root are written and deleted in one batch, so a root never exists without its
 * block list (datastore-level batches are atomic).
 *
 * Membership is stored per root instead of as per-block reference counts: a crash can then never
 * leave a count that is off by one forever, and "is this block still needed?" is a set lookup over
 * all lists (see referencedBlocks). The price is that remove() reads every list; fine for the
 * thousands of roots a personal node holds, revisit with counts if that stops being true.
 *
 * `lock` is the garbage-collection lock shared by everything that writes content (see RwLock).
 */
export class ContentIndex {
  readonly lock = new RwLock()
  private readonly datastore: Datastore
  // Serialises read-modify-write updates (touch vs. a kind change) within this process.
  private tail: Promise<unknown> = Promise.resolve()
  /**
   * Decoded records (null: known absent) by indexId. Every "do you have it?" from a peer reads a
   * record, dozens a second per root in a crowd: a LevelDB get, a JSON parse and a CID parse
   * each. All writes go through this class, which keeps the cache in step.
   */
  private readonly records = createLru<ContentRecord | null>(MAX_CACHED_RECORDS)
  /** Bumped by every write, so a read that raced one does not cache what it read */
  private generation = 0

  constructor (components: ContentIndexComponents) {
    this.datastore = components.datastore
  }

  /** Adds or replaces a root together with its block list */
  async put (record: ContentRecord, blocks: BlockRef[], options: IndexOptions = {}): Promise<void> {
    await this.serial(async () => {
      options.signal?.throwIfAborted()
      const batch = this.datastore.batch()
      batch.put(recordKey(record.cid), encodeRecord(record))
      batch.put(blocksKey(record.cid), encodeBlocks(blocks))
      await this.write(async () => batch.commit(options), record.cid, record)
    })
  }

  async get (cid: CID, options: IndexOptions = {}): Promise<ContentRecord | undefined> {
    const id = indexId(cid)
    const cached = this.records.get(id)
    if (cached !== undefined) {
      return cached === null ? undefined : { ...cached }
    }
    const generation = this.generation
    const bytes = await this.read(recordKey(cid), options)
    const record = bytes == null ? undefined : decodeRecord(bytes)
    if (generation === this.generation) {
      this.records.set(id, record ?? null)
    }
    return record === undefined ? undefined : { ...record }
  }

  async has (cid: CID, options: IndexOptions = {}): Promise<boolean> {
    return (await this.get(cid, options)) !== undefined
  }

  /** Every root, in key order */
  async * list (options: IndexOptions = {}): AsyncGenerator<ContentRecord, void, undefined> {
    for await (const { value } of this.datastore.query({ prefix: ROOTS }, options)) {
      yield decodeRecord(value)
    }
  }

  /** The distinct blocks of a root's DAG, or undefined when the root is not indexed */
  async blocks (cid: CID, options: IndexOptions = {}): Promise<BlockRef[] | undefined> {
    const bytes = await this.read(blocksKey(cid), options)
    return bytes == null ? undefined : decodeBlocks(bytes)
  }

  /** Removes a root and its block list; false when it was not indexed. Frees no blocks itself */
  async delete (cid: CID, options: IndexOptions = {}): Promise<boolean> {
    return this.serial(async () => {
      options.signal?.throwIfAborted()
      const existed = await this.datastore.has(recordKey(cid), options)
      const batch = this.datastore.batch()
      batch.delete(recordKey(cid))
      batch.delete(blocksKey(cid))
      await this.write(async () => batch.commit(options), cid, null)
      return existed
    })
  }

  /** Changes a record's kind, name or lastAccess; returns the new record, undefined if absent */
  async update (cid: CID, patch: Partial<Pick<ContentRecord, 'kind' | 'name' | 'lastAccess'>>, options: IndexOptions = {}): Promise<ContentRecord | undefined> {
    return this.serial(async () => {
      const record = await this.get(cid, options)
      if (record == null) {
        return undefined
      }
      const updated = { ...record, ...patch }
      await this.write(async () => this.datastore.put(recordKey(cid), encodeRecord(updated), options), cid, updated)
      return updated
    })
  }

  /** Marks a root as just used (for cache eviction by age) */
  async touch (cid: CID, options: IndexOptions & { at?: number } = {}): Promise<ContentRecord | undefined> {
    return this.update(cid, { lastAccess: options.at ?? Date.now() }, options)
  }

  /**
   * Union of the block lists of all roots except `except`, keyed by blockKey(). A block absent
   * from this map is needed by no other root and may be deleted (under lock.exclusive()).
   */
  async referencedBlocks (options: IndexOptions & { except?: CID[] } = {}): Promise<Map<string, ReferencedBlock>> {
    const excluded = new Set((options.except ?? []).map(cid => indexId(cid)))
    const kinds = new Map<string, ContentKind>()
    for await (const record of this.list(options)) {
      kinds.set(indexId(record.cid), record.kind)
    }

    const referenced = new Map<string, ReferencedBlock>()
    for await (const { key, value } of this.datastore.query({ prefix: BLOCKS }, options)) {
      const id = key.toString().slice(BLOCKS.length)
      const kind = kinds.get(id)
      if (excluded.has(id) || kind == null) {
        continue
      }
      for (const ref of decodeBlocks(value)) {
        const k = blockKey(ref.cid)
        const existing = referenced.get(k)
        referenced.set(k, { size: ref.size, pinned: (existing?.pinned ?? false) || kind === 'pinned' })
      }
    }
    return referenced
  }

  /**
   * Runs a datastore write of cid's record and updates the cache to `record` once it is durable.
   * The cache entry is dropped for the duration, so readers go to the datastore meanwhile.
   */
  private async write (commit: () => Promise<unknown>, cid: CID, record: ContentRecord | null): Promise<void> {
    const id = indexId(cid)
    this.generation++
    this.records.remove(id)
    try {
      await commit()
    } finally {
      this.generation++
    }
    this.records.set(id, record === null ? null : { ...record })
  }

  private async read (key: Key, options: IndexOptions): Promise<Uint8Array | undefined> {
    try {
      return await this.datastore.get(key, options)
    } catch (err) {
      if ((err as Error).name === 'NotFoundError') {
        return undefined
      }
      throw err
    }
  }

  private async serial<T> (fn: () => Promise<T>): Promise<T> {
    const run = this.tail.then(fn, fn)
    this.tail = run.catch(() => {})
    return run
  }
}

/** Roots are keyed by their CIDv1 string so a CIDv0 and a CIDv1 of one DAG are one entry */
function indexId (cid: CID): string {
  return cid.toV1().toString()
}

function recordKey (cid: CID): Key {
  return new Key(ROOTS + indexId(cid))
}

function blocksKey (cid: CID): Key {
  return new Key(BLOCKS + indexId(cid))
}

function encodeRecord (record: ContentRecord): Uint8Array {
  return new TextEncoder().encode(JSON.stringify({ ...record, cid: record.cid.toString() }))
}

function decodeRecord (bytes: Uint8Array): ContentRecord {
  try {
    const json = JSON.parse(new TextDecoder().decode(bytes))
    return { ...json, cid: CID.parse(json.cid) }
  } catch (err) {
    throw new KizunaError('ERR_INDEX_CORRUPT', `content index record does not parse: ${(err as Error).message}`, { cause: err })
  }
}

function encodeBlocks (blocks: BlockRef[]): Uint8Array {
  let length = 0
  for (const { cid, size } of blocks) {
    length += varint.encodingLength(size) + cid.bytes.byteLength
  }
  const out = new Uint8Array(length)
  let offset = 0
  for (const { cid, size } of blocks) {
    varint.encodeTo(size, out, offset)
    offset += varint.encodingLength(size)
    out.set(cid.bytes, offset)
    offset += cid.bytes.byteLength
  }
  return out
}

function decodeBlocks (bytes: Uint8Array): BlockRef[] {
  const blocks: BlockRef[] = []
  try {
    let rest = bytes
    while (rest.byteLength > 0) {
      const [size, read] = varint.decode(rest)
      const [cid, remainder] = CID.decodeFirst(rest.subarray(read))
      blocks.push({ cid, size })
      rest = remainder
    }
  } catch (err) {
    throw new KizunaError('ERR_INDEX_CORRUPT', `content index block list does not parse: ${(err as Error).message}`, { cause: err })
  }
  return blocks
}
