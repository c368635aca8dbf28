import fs from 'node:fs/promises'
import fsSync, { type BigIntStats } from 'node:fs'
import path from 'node:path'
import { FsBlockstore } from 'blockstore-fs'
import { NextToLast } from 'blockstore-fs/sharding'
import { base32upper } from 'multiformats/bases/base32'
import { KizunaError } from '../../errors.js'
import { createLru } from '../../util/lru.js'
import { blockKey, rawCidFromMultihash } from './block-key.js'
import { BlockNotFoundError } from '../errors.js'
import { verifyBlock } from './verify.js'
import { VerifiedStats } from './verified-stats.js'
import { identity } from 'multiformats/hashes/identity'
import { BlockFileWriter } from './block-file-writer.js'
import { readFully } from '../../util/read-fully.js'
import { formatReference, readReference, readReferenced, referencedSize, type BlockReference, type ReferencedRead } from './block-references.js'
import type { BlockStoreOptions, PutOptions, ReadIntoOptions } from './block-store.js'
import type { BlockEntry, ListableBlockStore } from './listable-block-store.js'
import type { CID } from 'multiformats/cid'

export interface FsBlockStoreInit {
  /**
   * Re-hash every block read from disk (default true). A block that no longer matches its CID is
   * deleted and reported as ERR_BLOCK_NOT_FOUND, so callers refetch it instead of serving garbage.
   * A hash per read (docs/design-notes.md); turn off only for benchmarks.
   */
  verifyOnRead?: boolean
  /** Write block files synchronously while the disk is fast (default true; see BlockFileWriter) */
  syncWrites?: boolean
  /** Wall clock compared with files' change times (tests) */
  now?: () => number
}

/** Reads that checked a block against its CID, by how (tests and diagnostics) */
export interface ReadVerificationCounts {
  /** the bytes were hashed */
  hashed: number
  /** the bytes were taken as verified: their file's stat had not changed since they were hashed */
  vouchedByStat: number
}

const BLOCK_EXTENSION = '.data'
const REFERENCE_EXTENSION = '.ref'
/** References remembered in memory (a few hundred bytes each; hashlru keeps up to twice this, least recently used go first) */
const MAX_REMEMBERED_REFERENCES = 65_536

/**
 * Blocks as files under `path`, in blockstore-fs's layout (`<last 2 chars>/<BASE32 multihash>.data`)
 * so a repo stays readable by blockstore-fs/Helia tooling.
 *
 * Crash safety. Blocks are written the way blockstore-fs (steno) writes them: bytes go to
 * `.<name>.data.tmp` in the same shard directory, then rename() moves it over `<name>.data`
 * (our own few lines, without blockstore-fs's mkdir -p before every block: that and a stat cost
 * more main-thread time per fetched block than hashing it). rename is atomic, so a process killed
 * at any point (kill -9) leaves either no `<name>.data` or a complete one, plus at worst a stray
 * dot-file that has(), get(), size() and entries() never look at and that the next write of the same
 * block truncates and reuses. Blocks are not fsync'ed (one fsync per 1 MiB block would cost more
 * than everything else in storing it), so after a power loss or kernel crash the
 * filesystem may keep the rename but not the data (an empty or short file). Two defences cover that:
 * put() rewrites a block whose file size is wrong instead of trusting it, and get() re-verifies the
 * hash (verifyOnRead) and deletes a block that fails, turning corruption into absence.
 *
 * Re-hashing cheaply. getInto() (the server's and export's read) hashes a stored block only when its
 * file's stat (device, inode, size, mtime, ctime) differs from the one it had when this process last
 * hashed or wrote those bytes, or that was over VERIFIED_FOR_MS ago (verified-stats.ts): a rewrite
 * shows in the stat, rot does not, so the TTL bounds how long rot goes unseen. get() reads stored
 * blocks with no stat, so it always hashes them.
 *
 * References. A block may instead be kept as `<name>.ref`: a small JSON file naming a byte range of
 * a file outside the store (a file `get -o` wrote; see FileAssembler), so a downloaded file's
 * leaves are written to disk once, not twice (Kubo's filestore does the same for `add --nocopy`).
 * That file belongs to the user, who may change or delete it, so referenced bytes are always
 * verified on read, whatever verifyOnRead says (by hash, or by a stat unchanged since a hash made
 * RACY_CHANGE_MS after the file last changed): a reference whose bytes no longer match is
 * deleted, one whose file is gone or short is kept, and either way the block reads as missing.
 * `<name>.data` wins when both exist.
 *
 * Concurrency. The temp name is fixed per block, so two concurrent writes of one block from
 * this process would share a temp file; puts of the same block are therefore coalesced. A repo is
 * used by one process at a time (the repo lock), so no cross-process coordination is attempted.
 */
export class FsBlockStore implements ListableBlockStore {
  readonly path: string
  private readonly store: FsBlockstore
  private readonly sharding: NextToLast
  private readonly verifyOnRead: boolean
  private readonly writer: BlockFileWriter
  private readonly writes = new Map<string, Promise<void>>()
  /**
   * block key → its reference, for references written or read by this process (the repo lock
   * makes it the only writer). A reference read costs an open, a read and a close, and a busy
   * daemon waits for the event loop between each: a crowd downloader took seconds to record a
   * 64 MiB download whose 64 leaves it had itself just referenced.
   */
  private readonly references = createLru<BlockReference>(MAX_REMEMBERED_REFERENCES)
  /** block key → the stat its file had when its bytes were last verified */
  private readonly verified: VerifiedStats
  private readonly counts: ReadVerificationCounts = { hashed: 0, vouchedByStat: 0 }
  /**
   * Told of every block found corrupt on read (and deleted): the node re-fetches it when a pinned
   * root needs it (see StoreRepair). Set after construction: the store exists before its repairer.
   */
  onCorrupt?: (cid: CID) => void
  /** put() is done with the bytes when it settles: the write (or the coalesced one) has finished */
  readonly putReleasesBytes = true

  constructor (location: string, init: FsBlockStoreInit = {}) {
    this.path = path.resolve(location)
    this.sharding = new NextToLast({ extension: BLOCK_EXTENSION, prefixLength: 2, base: base32upper })
    this.store = new FsBlockstore(this.path, { shardingStrategy: this.sharding })
    this.verifyOnRead = init.verifyOnRead ?? true
    this.writer = new BlockFileWriter({ sync: init.syncWrites })
    this.verified = new VerifiedStats({ wallNow: init.now })
  }

  /** How reads so far checked blocks against their CIDs */
  get readVerification (): Readonly<ReadVerificationCounts> {
    return { ...this.counts }
  }

  /** Creates the directory if missing */
  async open (): Promise<void> {
    try {
      await this.store.open()
    } catch (err) {
      throw new KizunaError('ERR_BLOCK_STORE_OPEN', `cannot open block store at ${this.path}: ${(err as Error).message}`, { cause: err })
    }
  }

  async close (): Promise<void> {
    await Promise.allSettled(this.writes.values())
    await this.store.close()
  }

  async has (cid: CID, options?: BlockStoreOptions): Promise<boolean> {
    return (await this.size(cid, options)) !== undefined
  }

  async get (cid: CID, options?: BlockStoreOptions): Promise<Uint8Array> {
    options?.signal?.throwIfAborted()
    if (isIdentity(cid)) return cid.multihash.digest.slice()
    let bytes: Uint8Array
    try {
      // One readFile instead of blockstore-fs's get(): that streams a 1 MiB block as sixteen 64 KiB
      // chunks to be concatenated again, and maps every error (EIO, EACCES...) to "not found".
      const buffer = await fs.readFile(this.filePath(cid), { signal: options?.signal })
      // a plain Uint8Array view (no copy), so callers comparing bytes are not tripped by Buffer
      bytes = new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength)
    } catch (err) {
      if (isMissing(err)) return await this.getReferenced(cid, undefined, options)
      throw this.readError(cid, err, options)
    }
    return await this.checkRead(cid, bytes)
  }

  async getInto (cid: CID, target: Uint8Array, options?: ReadIntoOptions): Promise<Uint8Array> {
    options?.signal?.throwIfAborted()
    if (isIdentity(cid)) return cid.multihash.digest.slice()
    const verify = options?.verify !== false && this.verifyOnRead
    let bytes: Uint8Array | undefined
    let stat: BigIntStats | undefined
    let handle: fs.FileHandle
    try {
      handle = await fs.open(this.filePath(cid), 'r')
    } catch (err) {
      if (isMissing(err)) return await this.getReferenced(cid, target, options)
      throw this.readError(cid, err, options)
    }
    try {
      const { size } = await handle.stat()
      if (size <= target.byteLength) {
        bytes = target.subarray(0, await readFully(handle, target.subarray(0, size), 0))
        // after the read: a rewrite during it shows in this stat
        if (verify) stat = await handle.stat({ bigint: true })
      }
    } catch (err) {
      throw this.readError(cid, err, options)
    } finally {
      await handle.close().catch(() => {})
    }
    // larger than the buffer: get() reads it and rejects it as too large
    if (bytes === undefined) return await this.get(cid, options)
    if (!verify || stat === undefined) return bytes
    const key = blockKey(cid)
    if (this.verified.vouches(key, stat)) {
      this.counts.vouchedByStat++
      return bytes
    }
    await this.checkRead(cid, bytes)
    this.verified.remember(key, stat)
    return bytes
  }

  /** A block kept by reference: read from the file it points into, and always verified */
  private async getReferenced (cid: CID, target: Uint8Array | undefined, options?: BlockStoreOptions): Promise<Uint8Array> {
    options?.signal?.throwIfAborted()
    let reference: BlockReference | undefined
    let read: ReferencedRead | undefined
    try {
      reference = await this.readReference(cid)
      if (reference !== undefined) read = await readReferenced(reference, target)
    } catch (err) {
      throw this.readError(cid, err, options)
    }
    // Gone or too short: missing for now, but the reference stays. A file being published is
    // renamed before its references are pointed at the new name, and dropping one in that moment
    // would lose a block the file does hold.
    if (reference === undefined || read === undefined) throw new BlockNotFoundError(cid)
    const key = blockKey(cid)
    if (this.verified.vouches(key, read.stat)) {
      this.counts.vouchedByStat++
      return read.bytes
    }
    try {
      this.counts.hashed++
      verifyBlock(cid, read.bytes)
      // the user may rewrite the file any moment: only a stat older than a clock tick vouches
      this.verified.remember(key, read.stat, { racy: true })
      return read.bytes
    } catch (err) {
      // the bytes there changed: forget the reference (unless it was just rewritten), refetch later
      await this.dropReferenceIfUnchanged(cid, reference)
      this.reportCorrupt(cid)
      throw new BlockNotFoundError(cid, { cause: err })
    }
  }

  /**
   * Keeps a block as a reference to bytes already written elsewhere (see the class comment).
   * The caller must have written them there and checked them against the CID; they are
   * re-checked on every read.
   */
  async putReference (cid: CID, reference: BlockReference, options?: BlockStoreOptions): Promise<void> {
    options?.signal?.throwIfAborted()
    const file = this.referencePath(cid)
    const temp = path.join(path.dirname(file), `.${path.basename(file)}.tmp`)
    const resolved = { path: path.resolve(reference.path), offset: reference.offset, size: reference.size }
    const key = blockKey(cid)
    this.references.remove(key)
    this.verified.forget(key)
    try {
      await this.writer.writeAtomicallyNoStat(temp, file, formatReference(resolved))
    } catch (err) {
      throw new KizunaError('ERR_BLOCK_STORE_IO', `cannot write a reference for block ${cid.toString()}: ${(err as Error).message}`, { cause: err })
    }
    this.remember(key, resolved)
  }

  private async readReference (cid: CID): Promise<BlockReference | undefined> {
    const key = blockKey(cid)
    const known = this.references.get(key)
    if (known !== undefined) return known
    const reference = await readReference(this.referencePath(cid))
    if (reference !== undefined) this.remember(key, reference)
    return reference
  }

  private remember (key: string, reference: BlockReference): void {
    this.references.set(key, reference)
  }

  /** Where a block kept by reference lives; undefined when it is not kept that way */
  async reference (cid: CID, options?: BlockStoreOptions): Promise<BlockReference | undefined> {
    options?.signal?.throwIfAborted()
    if ((await this.dataSize(cid)) !== undefined) return undefined
    return await this.readReference(cid)
  }

  async deleteReference (cid: CID, options?: BlockStoreOptions): Promise<void> {
    options?.signal?.throwIfAborted()
    const key = blockKey(cid)
    this.references.remove(key)
    this.verified.forget(key)
    await fs.rm(this.referencePath(cid), { force: true })
  }

  private async dropReferenceIfUnchanged (cid: CID, reference: BlockReference): Promise<void> {
    const current = await readReference(this.referencePath(cid)).catch(() => undefined)
    if (current?.path !== reference.path || current.offset !== reference.offset || current.size !== reference.size) return
    await this.deleteReference(cid).catch(() => {})
  }

  private reportCorrupt (cid: CID): void {
    try {
      this.onCorrupt?.(cid)
    } catch {}
  }

  /** Re-hashes bytes read from disk (verifyOnRead); a block that fails is deleted and reported missing */
  private async checkRead (cid: CID, bytes: Uint8Array): Promise<Uint8Array> {
    if (this.verifyOnRead) {
      try {
        this.counts.hashed++
        verifyBlock(cid, bytes)
      } catch (err) {
        // Only a mismatch is corruption. An oversized file was never written by put(), so it is
        // someone else's (a shared blockstore-fs directory): refuse it but do not delete it.
        if ((err as KizunaError).code !== 'ERR_BLOCK_HASH_MISMATCH') {
          throw err
        }
        await this.delete(cid)
        this.reportCorrupt(cid)
        throw new BlockNotFoundError(cid, { cause: err })
      }
    }
    return bytes
  }

  async put (cid: CID, bytes: Uint8Array, options?: PutOptions): Promise<void> {
    options?.signal?.throwIfAborted()
    // Before anything touches the disk: a wrong block must leave no trace, not even a temp file.
    if (options?.verified !== true) verifyBlock(cid, bytes)
    // an identity CID carries its bytes: there is nothing to store
    if (isIdentity(cid)) return

    const key = blockKey(cid)
    const pending = this.writes.get(key)
    if (pending != null) {
      await pending
      return
    }

    const write = this.write(cid, bytes, options?.absent === true).finally(() => {
      this.writes.delete(key)
    })
    this.writes.set(key, write)
    await write
  }

  async delete (cid: CID, options?: BlockStoreOptions): Promise<void> {
    options?.signal?.throwIfAborted()
    // Let a write of the same block finish first, so put-then-delete cannot end with the block present.
    await this.writes.get(blockKey(cid))?.catch(() => {})
    try {
      await this.store.delete(cid)
      await this.deleteReference(cid)
    } catch (err) {
      throw new KizunaError('ERR_BLOCK_STORE_IO', `cannot delete block ${cid.toString()}: ${(err as Error).message}`, { cause: err })
    }
  }

  async size (cid: CID, options?: BlockStoreOptions): Promise<number | undefined> {
    options?.signal?.throwIfAborted()
    if (isIdentity(cid)) return cid.multihash.digest.byteLength
    const known = this.sizeAtOnce(cid)
    if (known !== null) return known
    const stored = await this.dataSize(cid)
    if (stored !== undefined) return stored
    try {
      const reference = await this.readReference(cid)
      return reference === undefined ? undefined : await referencedSize(reference)
    } catch (err) {
      throw new KizunaError('ERR_BLOCK_STORE_IO', `cannot read the reference of block ${cid.toString()}: ${(err as Error).message}`, { cause: err })
    }
  }

  /**
   * size() answered by synchronous stats while the disk answers fast (the writer's test): the
   * size of `<name>.data`, or undefined when neither it nor `<name>.ref` exists; null when that
   * takes reading a reference or the stats failed, for the asynchronous path to decide. A fetch
   * asks size() for every block of a DAG before requesting it, and through the thread pool the
   * two lookups of a missing block cost more CPU than the lookups themselves (a hop to a pool
   * thread and back for each, and an ENOENT error built in JS).
   */
  private sizeAtOnce (cid: CID): number | undefined | null {
    if (!this.writer.synchronous) return null
    try {
      const data = fsSync.statSync(this.filePath(cid), { throwIfNoEntry: false })
      if (data !== undefined) return data.isFile() ? data.size : null
      if (this.references.get(blockKey(cid)) !== undefined) return null
      return fsSync.statSync(this.referencePath(cid), { throwIfNoEntry: false }) === undefined ? undefined : null
    } catch {
      return null
    }
  }

  /** Size of a block stored as `<name>.data` (references not considered) */
  private async dataSize (cid: CID): Promise<number | undefined> {
    try {
      return await fileSize(this.filePath(cid))
    } catch (err) {
      throw new KizunaError('ERR_BLOCK_STORE_IO', `cannot stat block ${cid.toString()}: ${(err as Error).message}`, { cause: err })
    }
  }

  /**
   * Every stored block, by walking the shard directories: `<BASE32>.data` files, then blocks kept
   * only by `<BASE32>.ref` (flagged `referenced`, sized as their reference says). Temp dot-files and
   * anything else in the tree are ignored.
   */
  async * entries (options?: BlockStoreOptions): AsyncGenerator<BlockEntry, void, undefined> {
    let shards: string[]
    try {
      shards = (await fs.readdir(this.path, { withFileTypes: true }))
        .filter(d => d.isDirectory())
        .map(d => d.name)
        .sort()
    } catch (err) {
      if (isMissing(err)) {
        return
      }
      throw err
    }

    for (const shard of shards) {
      options?.signal?.throwIfAborted()
      const dir = path.join(this.path, shard)
      let names: string[]
      try {
        names = await fs.readdir(dir)
      } catch (err) {
        if (isMissing(err)) {
          continue
        }
        throw err
      }

      const stored = new Set<string>()
      for (const name of names.sort()) {
        const multihash = blockName(name, BLOCK_EXTENSION)
        if (multihash === undefined) continue
        const info = await fileStat(path.join(dir, name))
        if (info === undefined) continue
        stored.add(name.slice(0, -BLOCK_EXTENSION.length))
        yield { cid: rawCidFromMultihash(multihash), size: info.size, mtimeMs: info.mtimeMs }
      }
      for (const name of names) {
        const multihash = blockName(name, REFERENCE_EXTENSION)
        if (multihash === undefined || stored.has(name.slice(0, -REFERENCE_EXTENSION.length))) continue
        const file = path.join(dir, name)
        const reference = await readReference(file)
        if (reference === undefined) continue
        const info = await fileStat(file)
        yield { cid: rawCidFromMultihash(multihash), size: reference.size, referenced: true, mtimeMs: info?.mtimeMs }
      }
    }
  }

  /** Bytes the store itself holds on disk: blocks kept by reference live in someone else's file */
  async totalBytes (options?: BlockStoreOptions): Promise<number> {
    let total = 0
    for await (const entry of this.entries(options)) {
      if (entry.referenced !== true) total += entry.size
    }
    return total
  }

  /** Absolute path of the file a block lives in (exposed for tests and diagnostics) */
  filePath (cid: CID): string {
    const { dir, file } = this.sharding.encode(cid)
    return path.join(this.path, dir, file)
  }

  /** Absolute path of the file that would hold a block's reference */
  referencePath (cid: CID): string {
    const file = this.filePath(cid)
    return file.slice(0, -BLOCK_EXTENSION.length) + REFERENCE_EXTENSION
  }

  private async write (cid: CID, bytes: Uint8Array, absent: boolean): Promise<void> {
    // Already stored with the right length: skip the rewrite (re-imports are common). A wrong
    // length means a torn write from a power loss, so fall through and replace it.
    // No signal past this point: a half-cancelled write would only leave a temp file behind.
    if (!absent && (await this.dataSize(cid)) === bytes.byteLength) {
      return
    }
    const file = this.filePath(cid)
    const dir = path.dirname(file)
    const temp = path.join(dir, `.${path.basename(file)}.tmp`)
    try {
      // put() hashed these bytes, or its caller did: the file as written is verified. Only this
      // store writes its block files, so unlike a user's file it need not age first.
      this.verified.remember(blockKey(cid), await this.writer.writeAtomically(temp, file, bytes))
    } catch (err) {
      throw new KizunaError('ERR_BLOCK_STORE_IO', `cannot write block ${cid.toString()}: ${(err as Error).message}`, { cause: err })
    }
  }

  private readError (cid: CID, err: unknown, options?: BlockStoreOptions): Error {
    if (options?.signal?.aborted === true) {
      return options.signal.reason as Error
    }
    if (isMissing(err) || (err as NodeJS.ErrnoException).code === 'EISDIR') {
      return new BlockNotFoundError(cid)
    }
    return new KizunaError('ERR_BLOCK_STORE_IO', `cannot read block ${cid.toString()}: ${(err as Error).message}`, { cause: err })
  }
}

/** The multihash a block file's name encodes, for names with `extension`; undefined for anything else */
function blockName (name: string, extension: string): Uint8Array | undefined {
  if (name.startsWith('.') || !name.endsWith(extension)) return undefined
  try {
    return base32upper.decode(name.slice(0, -extension.length))
  } catch {
    return undefined
  }
}

/** Size of a regular file; undefined when it is gone (deleted while listing) or not a file */
async function fileSize (file: string): Promise<number | undefined> {
  return (await fileStat(file))?.size
}

async function fileStat (file: string): Promise<{ size: number, mtimeMs: number } | undefined> {
  try {
    const stat = await fs.stat(file)
    return stat.isFile() ? { size: stat.size, mtimeMs: stat.mtimeMs } : undefined
  } catch (err) {
    if (isMissing(err)) return undefined
    throw err
  }
}

/** Identity CIDs (`bafkqaaa`, the empty file) hold their bytes inline: every store has them */
function isIdentity (cid: CID): boolean {
  return cid.multihash.code === identity.code
}

function isMissing (err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException)?.code
  return code === 'ENOENT' || code === 'ENOTDIR'
}
