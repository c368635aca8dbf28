import { randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'
import * as dagPb from '@ipld/dag-pb'
import { exporter } from 'ipfs-unixfs-exporter'
import * as raw from 'multiformats/codecs/raw'
import { identity } from 'multiformats/hashes/identity'
import { KizunaError } from '../../errors.js'
import { readFileContent } from './file-reader.js'
import { writeFully } from '../../util/write-fully.js'
import { InvalidDagError, OutputExistsError, OutputFailedError, PathNotFoundError, UnsafePathError, UnsupportedCodecError } from '../errors.js'
import type { BlockStore } from '../blocks/block-store.js'
import type { ReadableStorage, UnixFSEntry } from 'ipfs-unixfs-exporter'
import type { CID } from 'multiformats/cid'

export interface ExportProgressEvent {
  type: 'export:progress'
  /** content bytes written so far */
  bytes: number
  /** known for a single file; undefined for a directory (it would need an extra walk) */
  totalBytes?: number
}

export interface ExportSkippedEvent {
  type: 'export:skipped'
  /** path of the entry inside the exported directory, '/'-separated */
  path: string
  reason: 'symlink' | 'metadata'
}

export interface ExportDoneEvent {
  type: 'export:done'
  cid: CID
  path: string
  bytes: number
}

export type ExportEvent = ExportProgressEvent | ExportSkippedEvent | ExportDoneEvent

export interface ExportComponents {
  blockStore: BlockStore
}

export interface ExportOptions {
  signal?: AbortSignal
  /** replace whatever is at outPath (file or directory) */
  force?: boolean
  /**
   * Rewrites file content on its way to disk (decryption). It may throw at the end of the
   * stream (a failed authentication tag): the temp file is then removed, nothing is published.
   */
  transform?: (content: AsyncIterable<Uint8Array>) => AsyncIterable<Uint8Array>
}

interface Context {
  store: ReadableStorage
  blockStore: BlockStore
  signal?: AbortSignal
  transform?: (content: AsyncIterable<Uint8Array>) => AsyncIterable<Uint8Array>
  bytes: number
  totalBytes?: number
}

/**
 * Writes the file or directory DAG under `cid` to `outPath`.
 *
 * Atomic: everything is written under a temporary name next to outPath (same directory, so same
 * filesystem) and renamed into place only when complete; on any error the temporary tree is
 * removed and outPath is untouched. Files are fsync'ed before the rename.
 *
 * The DAG may come from an untrusted peer, so every directory entry name is checked before use
 * (see checkEntryName), files and directories are created exclusively (a duplicate or
 * case-colliding name fails rather than overwrites), and UnixFS symlinks are not recreated but
 * reported as skipped: a link planted by a peer could point anywhere on this machine.
 *
 * Errors: ERR_OUTPUT_EXISTS (without force), ERR_PATH_NOT_FOUND (outPath's parent directory),
 * ERR_UNSAFE_PATH, ERR_BLOCK_NOT_FOUND, ERR_INVALID_DAG, ERR_UNSUPPORTED_CODEC, ERR_OUTPUT_FAILED.
 */
export async function * exportTo (cid: CID, outPath: string, components: ExportComponents, options: ExportOptions = {}): AsyncGenerator<ExportEvent, void, undefined> {
  const out = path.resolve(outPath)
  const parent = path.dirname(out)
  const { signal } = options

  await checkOutputTarget(out, options.force ?? false)

  const temp = path.join(parent, `.${path.basename(out)}.kizuna-${randomBytes(6).toString('hex')}.tmp`)
  const ctx: Context = { store: readableStorage(components.blockStore), blockStore: components.blockStore, signal, bytes: 0, transform: options.transform }

  try {
    const root = await resolve(cid, ctx)
    if (root.type === 'file' || root.type === 'raw' || root.type === 'identity') {
      ctx.totalBytes = Number(root.size)
    }
    yield { type: 'export:progress', bytes: 0, totalBytes: ctx.totalBytes }
    yield * writeEntry(root, temp, '', ctx)
    signal?.throwIfAborted()
    await moveIntoPlace(temp, out, options.force ?? false)
  } catch (err) {
    await fs.rm(temp, { recursive: true, force: true })
    throw mapError(err, cid, out, signal)
  }

  yield { type: 'export:done', cid, path: out, bytes: ctx.bytes }
}

/** ERR_OUTPUT_EXISTS (unless force) when `out` exists; ERR_PATH_NOT_FOUND unless its parent is a directory */
export async function checkOutputTarget (out: string, force: boolean): Promise<void> {
  if (!force && await outputExists(out)) {
    throw new OutputExistsError(out)
  }
  const parent = path.dirname(out)
  try {
    if (!(await fs.stat(parent)).isDirectory()) {
      throw new PathNotFoundError(parent)
    }
  } catch (err) {
    throw err instanceof KizunaError ? err : new PathNotFoundError(parent, { cause: err })
  }
}

/**
 * Throws ERR_UNSAFE_PATH unless `name` is a single, plain path component on every platform we
 * might write to: not empty, `.` or `..`, and free of `/`, `\` and NUL (so also not absolute).
 */
export function checkEntryName (name: string): void {
  if (name === '' || name === '.' || name === '..') {
    throw new UnsafePathError(name, 'not a file name')
  }
  if (name.includes('/') || name.includes('\\')) {
    throw new UnsafePathError(name, 'contains a path separator')
  }
  if (name.includes('\0')) {
    throw new UnsafePathError(name, 'contains a NUL byte')
  }
  if (path.isAbsolute(name)) {
    throw new UnsafePathError(name, 'is an absolute path')
  }
}

async function * writeEntry (entry: UnixFSEntry, dest: string, inner: string, ctx: Context): AsyncGenerator<ExportEvent, void, undefined> {
  ctx.signal?.throwIfAborted()
  switch (entry.type) {
    case 'directory': {
      await fs.mkdir(dest).catch(err => { throw collision(err, inner) })
      for await (const child of entry.entries({ signal: ctx.signal })) {
        checkEntryName(child.name)
        const childInner = inner === '' ? child.name : `${inner}/${child.name}`
        yield * writeEntry(await resolve(child.cid, ctx), path.join(dest, child.name), childInner, ctx)
      }
      return
    }
    case 'file':
      if (entry.unixfs.type === 'symlink' || entry.unixfs.type === 'metadata') {
        yield { type: 'export:skipped', path: inner, reason: entry.unixfs.type }
        return
      }
      yield * writeFile(fileContent(entry.cid, ctx), dest, inner, ctx)
      return
    case 'raw':
      yield * writeFile(fileContent(entry.cid, ctx), dest, inner, ctx)
      return
    case 'identity':
      yield * writeFile(entry.content({ signal: ctx.signal }), dest, inner, ctx)
      return
    default:
      throw new UnsupportedCodecError(entry.cid)
  }
}

/**
 * File content through our own reader (bounded read-ahead, no copy per block; see
 * file-reader.ts). Without a transform each chunk is written before the next is asked for, so
 * the reader may recycle its buffers; a transform (decryption) may hold on to chunks, so not then.
 */
function fileContent (cid: CID, ctx: Context): AsyncIterable<Uint8Array> {
  return readFileContent(cid, ctx.blockStore, { signal: ctx.signal, reuseBuffers: ctx.transform == null })
}

async function * writeFile (stored: AsyncIterable<Uint8Array>, dest: string, inner: string, ctx: Context): AsyncGenerator<ExportEvent, void, undefined> {
  const content = ctx.transform != null ? ctx.transform(stored) : stored
  const handle = await fs.open(dest, 'wx').catch(err => { throw collision(err, inner) })
  try {
    for await (const chunk of content) {
      await writeFully(handle, chunk)
      ctx.bytes += chunk.byteLength
      yield { type: 'export:progress', bytes: ctx.bytes, totalBytes: ctx.totalBytes }
    }
    await handle.sync()
  } finally {
    await handle.close()
  }
}

async function resolve (cid: CID, ctx: Context): Promise<UnixFSEntry> {
  // Checked here rather than left to the exporter, which would happily decode dag-cbor/json.
  if (cid.code !== dagPb.code && cid.code !== raw.code) {
    throw new UnsupportedCodecError(cid)
  }
  return exporter(cid, ctx.store, { signal: ctx.signal })
}

/** Replaces `out` with `temp`; with force, an existing output is moved aside first and removed last */
export async function moveIntoPlace (temp: string, out: string, force: boolean): Promise<void> {
  if (!force) {
    // Re-checked just before the rename: rename() itself would silently replace a file.
    if (await outputExists(out)) {
      throw new OutputExistsError(out)
    }
    await fs.rename(temp, out)
    return
  }

  const [tempStat, outStat] = await Promise.all([fs.lstat(temp), fs.lstat(out).catch(() => undefined)])
  if (outStat == null || (!tempStat.isDirectory() && !outStat.isDirectory())) {
    // file over file (or symlink): rename replaces it atomically
    await fs.rename(temp, out)
    return
  }

  const aside = `${temp}.old`
  await fs.rename(out, aside)
  try {
    await fs.rename(temp, out)
  } catch (err) {
    await fs.rename(aside, out).catch(() => {})
    throw err
  }
  await fs.rm(aside, { recursive: true, force: true })
}

/** The exporter wants interface-blockstore's get(), which streams chunks */
/** The first bytes of a file DAG's content (to recognise encrypted content before exporting) */
export async function readFileHead (cid: CID, length: number, blockStore: BlockStore, options: { signal?: AbortSignal } = {}): Promise<Uint8Array | undefined> {
  const entry = await exporter(cid, readableStorage(blockStore), { signal: options.signal })
  if (entry.type !== 'file' && entry.type !== 'raw') return undefined
  const parts: Uint8Array[] = []
  let have = 0
  for await (const chunk of entry.content({ offset: 0, length, signal: options.signal })) {
    parts.push(chunk)
    have += chunk.byteLength
    if (have >= length) break
  }
  return new Uint8Array(Buffer.concat(parts)).subarray(0, length)
}

function readableStorage (store: BlockStore): ReadableStorage {
  return {
    get: (cid, options) => (async function * () {
      // identity CIDs carry their bytes inline and are never stored
      if (cid.multihash.code === identity.code) {
        yield cid.multihash.digest
        return
      }
      yield await store.get(cid, options)
    })()
  }
}

function collision (err: unknown, inner: string): Error {
  if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
    return new UnsafePathError(inner, 'duplicate entry name in directory')
  }
  return err as Error
}

function mapError (err: unknown, cid: CID, out: string, signal?: AbortSignal): unknown {
  if (signal?.aborted === true) {
    return signal.reason
  }
  if (err instanceof KizunaError || (err as Error)?.name === 'AbortError') {
    return err
  }
  if ((err as NodeJS.ErrnoException)?.syscall != null) {
    return new OutputFailedError(out, err)
  }
  if ((err as { code?: string })?.code === 'ERR_NO_RESOLVER') {
    return new UnsupportedCodecError(cid)
  }
  // Anything else came from decoding the DAG (NotUnixFS, Over/UnderRead, dag-pb/protobuf errors)
  return new InvalidDagError(cid, err)
}

export async function outputExists (file: string): Promise<boolean> {
  try {
    await fs.lstat(file)
    return true
  } catch {
    return false
  }
}
