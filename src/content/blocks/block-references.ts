import fs from 'node:fs/promises'
import path from 'node:path'
import type { BigIntStats } from 'node:fs'
import { MAX_BLOCK_SIZE } from './verify.js'
import { readFully } from '../../util/read-fully.js'

/** Where a block's bytes are kept outside the block store: a byte range of some file */
export interface BlockReference {
  /** Absolute path of the file holding the bytes */
  path: string
  offset: number
  size: number
}

/** A reference file is a few hundred bytes of JSON; anything much larger is not one */
const MAX_REFERENCE_FILE_BYTES = 8192

/**
 * Parses a reference file's text; undefined when it is not a well-formed reference (a torn write
 * cannot produce one: reference files are written to a temp name and renamed, like blocks).
 */
export function parseReference (text: string): BlockReference | undefined {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    return undefined
  }
  if (typeof value !== 'object' || value === null) return undefined
  const { path: file, offset, size } = value as Record<string, unknown>
  if (typeof file !== 'string' || !path.isAbsolute(file) || file.includes('\0')) return undefined
  if (!Number.isSafeInteger(offset) || (offset as number) < 0) return undefined
  if (!Number.isSafeInteger(size) || (size as number) < 0 || (size as number) > MAX_BLOCK_SIZE) return undefined
  return { path: file, offset: offset as number, size: size as number }
}

export function formatReference (reference: BlockReference): Uint8Array {
  return new TextEncoder().encode(JSON.stringify({ path: reference.path, offset: reference.offset, size: reference.size }))
}

/** Reads a reference file; undefined when it is absent or not a reference */
export async function readReference (file: string): Promise<BlockReference | undefined> {
  let handle: fs.FileHandle
  try {
    handle = await fs.open(file, 'r')
  } catch (err) {
    if (isMissing(err)) return undefined
    throw err
  }
  try {
    const buffer = Buffer.alloc(MAX_REFERENCE_FILE_BYTES)
    const { bytesRead } = await handle.read(buffer, 0, buffer.byteLength, 0)
    if (bytesRead === buffer.byteLength) return undefined
    return parseReference(buffer.toString('utf8', 0, bytesRead))
  } finally {
    await handle.close()
  }
}

/**
 * Size of the referenced block when the file it points into still reaches that far, else
 * undefined. One stat: the bytes themselves are checked against the CID when read.
 */
export async function referencedSize (reference: BlockReference): Promise<number | undefined> {
  try {
    const stat = await fs.stat(reference.path)
    return stat.isFile() && stat.size >= reference.offset + reference.size ? reference.size : undefined
  } catch (err) {
    if (isMissing(err)) return undefined
    throw err
  }
}

/** Referenced bytes as read, and their file's stat taken after the read */
export interface ReferencedRead {
  bytes: Uint8Array
  stat: BigIntStats
}

/**
 * Reads the referenced bytes into `target` (a fresh buffer when it is too small). undefined when
 * the file is gone or shorter than the reference says: the user deleted or truncated it. The stat
 * comes after the read, so a change made while reading shows in it.
 */
export async function readReferenced (reference: BlockReference, target?: Uint8Array): Promise<ReferencedRead | undefined> {
  const into = target !== undefined && target.byteLength >= reference.size
    ? target.subarray(0, reference.size)
    : new Uint8Array(reference.size)
  let handle: fs.FileHandle
  try {
    handle = await fs.open(reference.path, 'r')
  } catch (err) {
    if (isMissing(err)) return undefined
    throw err
  }
  try {
    if (await readFully(handle, into, reference.offset) !== reference.size) return undefined
    return { bytes: into, stat: await handle.stat({ bigint: true }) }
  } finally {
    await handle.close()
  }
}

function isMissing (err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException)?.code
  return code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR'
}
