import { randomBytes } from 'node:crypto'
import { constants as fsConstants } from 'node:fs'
import fs from 'node:fs/promises'
import path from 'node:path'
import * as dagPb from '@ipld/dag-pb'
import * as raw from 'multiformats/codecs/raw'
import { blockKey } from '../blocks/block-key.js'
import { InvalidDagError, OutputExistsError, OutputFailedError, UnsupportedCodecError } from '../errors.js'
import { checkOutputTarget, moveIntoPlace, outputExists } from './exporter.js'
import { checkOutputSize } from './output-cap.js'
import { checkFilePart, decodeUnixfsNode, isFilePart } from './file-reader.js'
import { MAX_BLOCK_SIZE, verifyBlock } from '../blocks/verify.js'
import { KizunaError } from '../../errors.js'
import { writeFully } from '../../util/write-fully.js'
import { noteTransferBytes } from '../../util/gc-pacer.js'
import { withPut } from '../blocks/with-put.js'
import type { BlockStore, BlockStoreOptions } from '../blocks/block-store.js'
import { CID } from 'multiformats/cid'

/** Written bytes after which a background flush to disk starts (see write) */
export const FLUSH_EVERY_BYTES = 32 * 1024 * 1024

/** Partial files open in this process: a second download of the same root to the same path gets its own */
const partialsInUse = new Set<string>()

/** Where a block's content goes in the file: its byte offset, and the length its parent claims */
interface Placement {
  offset: number
  /** undefined for the root, whose length is its own claim */
  size?: number
}

/**
 * Writes a single-file DAG to its output while a fetch brings the blocks in, instead of
 * fetching everything into the block store and then reading it all back out (a second read and
 * a second sha256 of every byte, after the last block arrived).
 *
 * Blocks may come in any order (a download walks leaves shuffled): every leaf is written at its
 * offset, known from its parent's UnixFS blockSizes, so parents must be seen before their
 * children, which a fetch guarantees (it learns children from parents). Blocks the fetch did not
 * hand over (already stored: a resume; or a CID seen twice in the DAG) are filled from the block
 * store at complete(). Sizes are checked as in file-reader.ts: a leaf must hold exactly what its
 * parent claims, a dag-pb child must claim exactly its parent's figure (ERR_INVALID_DAG).
 *
 * A DAG that is not one UnixFS file (a directory) makes the assembler stand down (`usable`
 * turns false, its temp file is removed) and the caller exports as before. Atomic like the
 * exporter: a partial file next to the output, fsync'ed and renamed into place by publish().
 *
 * Written once. Through blockStoreFor(), a raw leaf is written only into the file and the block
 * store keeps a reference to it (FsBlockStore `.ref`: path, offset, size, re-hashed on every read),
 * instead of a second copy in the store: the receiving side of a download then writes each byte
 * once, which saves kernel time (docs/design-notes.md). publish() points the references at the published file. An aborted download
 * copies the leaves it referenced into the store before removing its partial file, so a later get
 * resumes without refetching (if that copy fails, the disk is full say, the partial file and its
 * references stay, and resume reads from them). The partial file is named after the root
 * (`.<name>.kizuna-<root tail>.part`), so after a kill -9 a get to the same path reopens it and
 * finds its leaves in place.
 */
export class FileAssembler {
  private readonly root: CID
  private readonly out: string
  private readonly temp: string
  private readonly force: boolean
  private handle?: fs.FileHandle
  /** block key → places still waiting for that block */
  private readonly waiting = new Map<string, Placement[]>()
  /** keys whose bytes went by already: a later placement of the same block is filled at complete() */
  private readonly seen = new Set<string>()
  private readonly deferred: Array<{ cid: CID, place: Placement }> = []
  /** block key → CID, for blocks complete() must read from the store */
  private readonly cids = new Map<string, CID>()
  private failure?: Error
  private standDown = false
  private written = 0
  private unflushed = 0
  private flushing?: Promise<void>
  /** Leaves the block store keeps as references into this file: block key → where */
  private readonly referenced = new Map<string, { cid: CID, offset: number, size: number }>()
  private released = false
  /** DAG nodes being read from the store (learnStored) */
  private learning?: Promise<void>
  private readonly maxOutputBytes?: number
  totalBytes?: number

  private constructor (root: CID, out: string, force: boolean, temp: string, maxOutputBytes?: number) {
    this.root = root
    this.out = out
    this.force = force
    this.temp = temp
    this.maxOutputBytes = maxOutputBytes
    this.waiting.set(blockKey(root), [{ offset: 0 }])
    this.cids.set(blockKey(root), root)
  }

  /**
   * Checks the output target (ERR_OUTPUT_EXISTS, ERR_PATH_NOT_FOUND) and opens the partial file:
   * the one an interrupted download of this root to this path left, or a new one
   */
  static async open (root: CID, outPath: string, options: { force?: boolean, maxOutputBytes?: number } = {}): Promise<FileAssembler> {
    const out = path.resolve(outPath)
    await checkOutputTarget(out, options.force ?? false)
    let temp = path.join(path.dirname(out), `.${path.basename(out)}.kizuna-${root.toString().slice(-12)}.part`)
    if (partialsInUse.has(temp)) temp = freshPartialName(out)
    partialsInUse.add(temp)
    let handle: fs.FileHandle
    try {
      handle = await fs.open(temp, 'wx').catch(async err => {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
        const reopened = await reopenPartial(temp)
        if (reopened !== undefined) return reopened
        // not a partial file we left (a symlink, a hard link, someone else's file): never write
        // through it; a fresh name starts over
        partialsInUse.delete(temp)
        temp = freshPartialName(out)
        partialsInUse.add(temp)
        return await fs.open(temp, 'wx')
      })
    } catch (err) {
      partialsInUse.delete(temp)
      throw new OutputFailedError(out, err)
    }
    const assembler = new FileAssembler(root, out, options.force ?? false, temp, options.maxOutputBytes)
    assembler.handle = handle
    return assembler
  }

  /** The partial file the output is assembled in (renamed to the output by publish()) */
  get partialPath (): string {
    return this.temp
  }

  /**
   * `store` as a fetch should see it: raw leaves of this file are written into the file and kept
   * by reference (when `store` can), everything else is stored and handed to accept()
   */
  blockStoreFor (store: BlockStore): BlockStore {
    return withPut(store, async (cid, bytes, options) => {
      if (cid.equals(this.root)) await this.checkClaimedSize(cid, bytes)
      else if (this.waiting.has(blockKey(this.root))) await (this.learning ??= this.learnStored(store).finally(() => { this.learning = undefined }))
      if (store.putReference === undefined || !this.takesLeaf(cid)) {
        await Promise.all([store.put(cid, bytes, options), this.accept(cid, bytes)])
        return
      }
      if (options?.verified !== true) verifyBlock(cid, bytes)
      const offset = await this.acceptLeaf(cid, bytes)
      await store.putReference?.(cid, { path: this.temp, offset, size: bytes.byteLength }, options)
      this.referenced.set(blockKey(cid), { cid, offset, size: bytes.byteLength })
    })
  }

  /**
   * A block came before the root: this view joined a fetch already under way (a get joining a
   * replica fetch), which stored the DAG's nodes before. Reads them from the store, so the leaves
   * still to come are written into the file (those already stored are copied by complete()).
   */
  private async learnStored (store: BlockStore): Promise<void> {
    let learned = true
    while (learned && this.failure === undefined && !this.standDown) {
      learned = false
      const nodes = [...this.waiting.keys()].map(key => this.cids.get(key)).filter((cid): cid is CID => cid?.code === dagPb.code)
      for (const cid of nodes) {
        if (!this.waiting.has(blockKey(cid)) || !await store.has(cid)) continue
        const bytes = await store.get(cid)
        if (cid.equals(this.root)) await this.checkClaimedSize(cid, bytes)
        const places = this.take(cid)
        if (places !== undefined) await this.placeEverywhere(cid, bytes, places)
        learned = true
      }
    }
  }

  /**
   * The root says how large the file is before any of it is written: past the output cap (or the
   * disk's free space) the download is refused here, failing the fetch, rather than written.
   */
  private async checkClaimedSize (cid: CID, bytes: Uint8Array): Promise<void> {
    if (cid.code !== dagPb.code) return
    let size: bigint
    try {
      const node = decodeUnixfsNode(cid, bytes)
      if (!isFilePart(node)) return
      size = node.unixfs.fileSize()
    } catch {
      return // place() reports a malformed root
    }
    await checkOutputSize(this.out, Number(size), this.maxOutputBytes)
  }

  /** false once the DAG turned out not to be a single file: export it the usual way instead */
  get usable (): boolean {
    return !this.standDown
  }

  /** Content bytes written to the output so far */
  get bytes (): number {
    return this.written
  }

  /**
   * A verified block the fetch has in hand; writes what of it belongs in the file. Never throws:
   * a failure is kept and reported by complete(), so the download itself carries on. The bytes
   * are not kept after the returned promise settles.
   */
  async accept (cid: CID, bytes: Uint8Array): Promise<void> {
    if (this.standDown || this.failure !== undefined) return
    const places = this.take(cid)
    if (places === undefined) return
    await this.placeEverywhere(cid, bytes, places).catch(() => {})
  }

  /** The places still waiting for a block, no longer waiting; the block counts as seen */
  private take (cid: CID): Placement[] | undefined {
    const key = blockKey(cid)
    const places = this.waiting.get(key)
    this.seen.add(key)
    this.waiting.delete(key)
    return places
  }

  /** Writes the block at each of its places; a failure is kept for complete() and thrown */
  private async placeEverywhere (cid: CID, bytes: Uint8Array, places: Placement[]): Promise<void> {
    try {
      for (const place of places) await this.place(cid, bytes, place)
    } catch (err) {
      this.failure ??= err as Error
      throw err
    }
  }

  /** True when a leaf is still to be written and nothing went wrong: acceptLeaf() may take it */
  private takesLeaf (cid: CID): boolean {
    return cid.code === raw.code && !this.standDown && this.failure === undefined && this.waiting.has(blockKey(cid))
  }

  /**
   * Writes a verified leaf everywhere the file holds it and returns its first offset. Unlike
   * accept() this throws: the file is the only place these bytes are kept.
   */
  private async acceptLeaf (cid: CID, bytes: Uint8Array): Promise<number> {
    const places = this.take(cid) as Placement[]
    await this.placeEverywhere(cid, bytes, places)
    return places[0].offset
  }

  /**
   * After the fetch: fills whatever the fetch did not hand over from `store`, checks that every
   * byte of the file is in place, and fsyncs. Throws what accept() ran into.
   */
  async complete (store: BlockStore, options: { signal?: AbortSignal } = {}): Promise<void> {
    if (this.standDown) return
    while (this.failure === undefined && (this.waiting.size > 0 || this.deferred.length > 0)) {
      options.signal?.throwIfAborted()
      const next = this.deferred.shift() ?? this.takeWaiting()
      await this.fill(store, next.cid, next.place, options).catch(err => { this.failure ??= err as Error })
    }
    if (this.failure !== undefined) throw this.failure
    if (this.standDown) return
    if (this.totalBytes === undefined || this.written !== this.totalBytes) {
      throw new InvalidDagError(this.root, new Error(`wrote ${this.written} bytes of a file of ${String(this.totalBytes)}`))
    }
    await this.flushing
    if (this.failure !== undefined) throw this.failure
    // a reopened partial file of a larger earlier attempt cannot be: same root, same size; still
    await this.handle?.truncate(this.totalBytes)
    await this.handle?.sync()
    await this.handle?.close()
    this.handle = undefined
  }

  /**
   * A block the fetch did not hand over, from the store. Leaves the store keeps by reference are
   * re-pointed at the output by publish(); one already in place in this very file (a partial file
   * reopened after a kill -9) is read and checked but not written again.
   */
  private async fill (store: BlockStore, cid: CID, place: Placement, options: BlockStoreOptions): Promise<void> {
    const reference = cid.code === raw.code ? await store.reference?.(cid, options) : undefined
    const bytes = await store.get(cid, options)
    // a read buffer per block, freed only by a collection: paced like the wire's (a get that joined
    // a replica fetch late copies the stored part here, ~30 MiB in a burst; it raised peak RSS by as much)
    noteTransferBytes(bytes.byteLength)
    if (reference === undefined) {
      await this.place(cid, bytes, place)
      return
    }
    const key = blockKey(cid)
    if (reference.path === this.temp && reference.offset === place.offset && reference.size === bytes.byteLength && place.size === bytes.byteLength) {
      this.written += bytes.byteLength
    } else {
      await this.place(cid, bytes, place)
    }
    if (!this.referenced.has(key)) this.referenced.set(key, { cid, offset: place.offset, size: bytes.byteLength })
  }

  /**
   * Renames the completed file into place (ERR_OUTPUT_EXISTS if something appeared there
   * meanwhile) and points the store's references at it
   */
  async publish (store?: BlockStore): Promise<void> {
    if (!this.force && await outputExists(this.out)) throw new OutputExistsError(this.out)
    // Without force the output is linked, not renamed, so the file has both names while the
    // references move over to the new one: a peer reading a block meanwhile finds it either way.
    const linked = !this.force && await linkNoClobber(this.temp, this.out)
    if (!linked) await moveIntoPlace(this.temp, this.out, this.force)
    if (store?.putReference !== undefined) {
      // All at once: each is a few file operations, and one after the other a busy daemon spent
      // seconds waiting for its event loop between them. The file is in place whatever happens
      // here: a reference left pointing at the vanished partial file reads as a missing block.
      const references = [...this.referenced.values()]
      await Promise.all(references.map(async ({ cid, offset, size }) => {
        await store.putReference?.(cid, { path: this.out, offset, size }).catch(() => {})
      }))
      this.referenced.clear()
    }
    if (linked) await fs.rm(this.temp, { force: true })
    // only now: until the partial file's name is gone, a new download must not reopen it
    this.release()
  }

  /**
   * Gives up on the output; safe to call at any point, also twice. Leaves kept by reference into
   * the partial file are copied into `store` first so nothing fetched is lost; if that fails the
   * partial file stays (its references still work for a resume).
   */
  async abort (store?: BlockStore): Promise<void> {
    await this.flushing
    await this.handle?.close().catch(() => {})
    this.handle = undefined
    if (this.released) return
    if (store !== undefined && !await this.copyReferencedInto(store)) {
      this.release()
      return
    }
    await fs.rm(this.temp, { force: true })
    this.release()
  }

  /** true when every leaf referenced into the partial file is now stored in `store` itself */
  private async copyReferencedInto (store: BlockStore): Promise<boolean> {
    for (const [key, { cid }] of this.referenced) {
      try {
        const reference = await store.reference?.(cid)
        if (reference !== undefined && reference.path === this.temp) {
          await store.put(cid, await store.get(cid), { verified: true })
          await store.deleteReference?.(cid)
        }
        this.referenced.delete(key)
      } catch {
        return false
      }
    }
    return true
  }

  private release (): void {
    this.released = true
    partialsInUse.delete(this.temp)
  }

  private takeWaiting (): { cid: CID, place: Placement } {
    const [key, places] = this.waiting.entries().next().value as [string, Placement[]]
    const place = places.shift() as Placement
    if (places.length === 0) this.waiting.delete(key)
    return { cid: this.cids.get(key) as CID, place }
  }

  private async place (cid: CID, bytes: Uint8Array, place: Placement): Promise<void> {
    if (cid.code === raw.code) {
      if (place.size !== undefined && bytes.byteLength !== place.size) {
        throw new InvalidDagError(cid, new Error(`leaf holds ${bytes.byteLength} bytes, its parent says ${place.size}`))
      }
      if (place.size === undefined) this.totalBytes = bytes.byteLength
      await this.write(bytes, place.offset)
      return
    }
    if (cid.code !== dagPb.code) {
      if (place.size === undefined) { await this.stand(); return }
      throw new UnsupportedCodecError(cid)
    }
    const node = decodeUnixfsNode(cid, bytes)
    // not a file: a directory root is exported the usual way; inside a file it is an error
    if (!isFilePart(node) && place.size === undefined) { await this.stand(); return }
    checkFilePart(cid, node)
    const fileSize = node.unixfs.fileSize()
    if (place.size === undefined) {
      if (fileSize > BigInt(Number.MAX_SAFE_INTEGER)) throw new InvalidDagError(cid, new Error(`claims ${fileSize} bytes`))
      this.totalBytes = Number(fileSize)
    } else if (fileSize !== BigInt(place.size)) {
      throw new InvalidDagError(cid, new Error(`holds ${fileSize} bytes, its parent says ${place.size}`))
    }
    let offset = place.offset
    const data = node.unixfs.data
    if (data !== undefined && data.byteLength > 0) {
      await this.write(data, offset)
      offset += data.byteLength
    }
    node.pb.Links.forEach((link, i) => {
      const size = node.unixfs.blockSizes[i]
      if (link.Hash.code === raw.code && size > BigInt(MAX_BLOCK_SIZE)) {
        throw new InvalidDagError(cid, new Error(`raw child ${i} claims ${size} bytes, more than a block`))
      }
      if (offset + Number(size) > (this.totalBytes ?? 0)) {
        throw new InvalidDagError(cid, new Error(`child ${i} ends past the file's ${String(this.totalBytes)} bytes`))
      }
      this.expect(link.Hash, { offset, size: Number(size) })
      offset += Number(size)
    })
  }

  private expect (link: CID, place: Placement): void {
    // a decoded link is a view into its parent's bytes, which the caller may recycle
    const cid = CID.decode(link.bytes.slice())
    const key = blockKey(cid)
    this.cids.set(key, cid)
    if (this.seen.has(key)) {
      this.deferred.push({ cid, place })
      return
    }
    const places = this.waiting.get(key)
    if (places === undefined) this.waiting.set(key, [place])
    else places.push(place)
  }

  private async write (bytes: Uint8Array, position: number): Promise<void> {
    const handle = this.handle
    if (handle === undefined) throw new KizunaError('ERR_ABORTED', 'output closed')
    try {
      await writeFully(handle, bytes, position)
    } catch (err) {
      throw new OutputFailedError(this.out, err)
    }
    this.written += bytes.byteLength
    this.unflushed += bytes.byteLength
    if (this.unflushed >= FLUSH_EVERY_BYTES && this.flushing === undefined) {
      // Push what is written so far to the disk while the download goes on, so the fsync before
      // publishing has little left to do (a 256 MiB file at the end: ~0.2 s of waiting)
      this.unflushed = 0
      this.flushing = handle.datasync()
        .catch(err => { this.failure ??= new OutputFailedError(this.out, err) })
        .finally(() => { this.flushing = undefined })
    }
  }

  private async stand (): Promise<void> {
    this.standDown = true
    this.waiting.clear()
    this.deferred.length = 0
    await this.abort()
  }
}

/**
 * link(2) `from` to `to`: atomic, and never replaces an existing `to` (ERR_OUTPUT_EXISTS). false
 * where the filesystem has no hard links, so the caller renames instead.
 */
async function linkNoClobber (from: string, to: string): Promise<boolean> {
  try {
    await fs.link(from, to)
    return true
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new OutputExistsError(to)
    return false
  }
}

function freshPartialName (out: string): string {
  return path.join(path.dirname(out), `.${path.basename(out)}.kizuna-${randomBytes(6).toString('hex')}.part`)
}

/**
 * The partial file an interrupted download left, opened without following a link, and only if it
 * is a regular file of ours with no other name: a symlink or hard link planted at its name would
 * otherwise have us write the download into whatever file it points at.
 */
async function reopenPartial (temp: string): Promise<fs.FileHandle | undefined> {
  let handle: fs.FileHandle
  try {
    handle = await fs.open(temp, fsConstants.O_RDWR | fsConstants.O_NOFOLLOW)
  } catch {
    return undefined
  }
  try {
    const info = await handle.stat()
    const ours = typeof process.getuid !== 'function' || info.uid === process.getuid()
    if (info.isFile() && info.nlink === 1 && ours) return handle
  } catch {}
  await handle.close().catch(() => {})
  return undefined
}
