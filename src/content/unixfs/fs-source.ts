import fs from 'node:fs/promises'
import path from 'node:path'
import { PathNotFoundError, PathUnreadableError } from '../errors.js'

export interface SourceEntry {
  /** '/'-separated, relative to the imported directory */
  relativePath: string
  absolutePath: string
  type: 'file' | 'directory'
  /** file length at scan time; 0 for directories */
  size: number
  /** a directory with nothing importable in it: it must be imported explicitly to be kept */
  empty: boolean
}

export type SkipReason = 'symlink' | 'special-file' | 'unsafe-name'

export interface SourceSkip {
  path: string
  reason: SkipReason
}

export interface SourceTree {
  type: 'file' | 'directory'
  /** absolute path of what was asked for */
  path: string
  /** directory contents in pre-order (a directory before anything inside it), names sorted */
  entries: SourceEntry[]
  skipped: SourceSkip[]
  totalBytes: number
}

const utf8 = new TextDecoder('utf-8', { fatal: true })

/**
 * Stats everything to import before any block is written, so a missing or unreadable path fails
 * fast and leaves nothing behind, and so progress has a total.
 *
 * The top-level path may be a symlink (followed: the user named it). Inside a directory, symlinks
 * are skipped and reported: following them could loop or pull in files from outside the shared
 * tree, and storing them as UnixFS symlinks would make receivers create links pointing anywhere.
 * FIFOs, sockets and devices are skipped too (reading a FIFO would hang). Names that are not
 * valid UTF-8 (UnixFS names are UTF-8 strings) or contain a backslash (the importer treats `\/` as
 * an escaped slash, and exporters refuse it) are skipped as unsafe.
 */
export async function scanSource (input: string, options: { signal?: AbortSignal } = {}): Promise<SourceTree> {
  const root = path.resolve(input)
  let stat
  try {
    stat = await fs.stat(root)
  } catch (err) {
    throw fsError(root, err)
  }

  if (stat.isFile()) {
    await checkReadable(root, fs.constants.R_OK)
    return { type: 'file', path: root, entries: [], skipped: [], totalBytes: stat.size }
  }
  if (!stat.isDirectory()) {
    throw new PathUnreadableError(root, new Error('not a regular file or directory'))
  }

  const tree: SourceTree = { type: 'directory', path: root, entries: [], skipped: [], totalBytes: 0 }
  await checkReadable(root, fs.constants.R_OK | fs.constants.X_OK)
  await scanDirectory(root, '', tree, options.signal)
  return tree
}

/** Appends the contents of `dir` to tree.entries; returns how many entries it added */
async function scanDirectory (dir: string, relative: string, tree: SourceTree, signal?: AbortSignal): Promise<number> {
  signal?.throwIfAborted()
  let dirents
  try {
    dirents = await fs.readdir(dir, { encoding: 'buffer' })
  } catch (err) {
    throw fsError(dir, err)
  }

  const names: string[] = []
  for (const raw of dirents) {
    let name: string
    try {
      name = utf8.decode(raw)
    } catch {
      tree.skipped.push({ path: path.join(dir, raw.toString('latin1')), reason: 'unsafe-name' })
      continue
    }
    if (name.includes('\\')) {
      tree.skipped.push({ path: path.join(dir, name), reason: 'unsafe-name' })
      continue
    }
    names.push(name)
  }
  names.sort()

  const before = tree.entries.length
  for (const name of names) {
    const absolutePath = path.join(dir, name)
    const relativePath = relative === '' ? name : `${relative}/${name}`
    let stat
    try {
      stat = await fs.lstat(absolutePath)
    } catch (err) {
      throw fsError(absolutePath, err)
    }

    if (stat.isSymbolicLink()) {
      tree.skipped.push({ path: absolutePath, reason: 'symlink' })
    } else if (stat.isFile()) {
      await checkReadable(absolutePath, fs.constants.R_OK)
      tree.entries.push({ relativePath, absolutePath, type: 'file', size: stat.size, empty: false })
      tree.totalBytes += stat.size
    } else if (stat.isDirectory()) {
      await checkReadable(absolutePath, fs.constants.R_OK | fs.constants.X_OK)
      const entry: SourceEntry = { relativePath, absolutePath, type: 'directory', size: 0, empty: false }
      tree.entries.push(entry)
      entry.empty = (await scanDirectory(absolutePath, relativePath, tree, signal)) === 0
    } else {
      tree.skipped.push({ path: absolutePath, reason: 'special-file' })
    }
  }
  return tree.entries.length - before
}

async function checkReadable (file: string, mode: number): Promise<void> {
  try {
    await fs.access(file, mode)
  } catch (err) {
    throw fsError(file, err)
  }
}

/** Maps an fs error on `file` to ERR_PATH_NOT_FOUND or ERR_PATH_UNREADABLE */
export function fsError (file: string, err: unknown): Error {
  const code = (err as NodeJS.ErrnoException)?.code
  if (code === 'ENOENT' || code === 'ENOTDIR') {
    return new PathNotFoundError(file, { cause: err })
  }
  if ((err as Error)?.name === 'AbortError') {
    return err as Error
  }
  return new PathUnreadableError(file, err)
}
