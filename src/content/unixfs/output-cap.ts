import fs from 'node:fs/promises'
import path from 'node:path'
import { OutputTooLargeError } from '../errors.js'

/**
 * Expanded bytes a download may write unless the caller says otherwise. A DAG may link one leaf
 * many times (and nest that): 1 MiB transferred can claim 256 MiB, 256 GiB one level deeper. The
 * claimed size is checked before anything is written, against this and the output disk's room.
 */
export const DEFAULT_MAX_OUTPUT_BYTES = 1024 ** 4

/** Throws ERR_OUTPUT_TOO_LARGE when `size` bytes would pass `limit` or the free space at `out` */
export async function checkOutputSize (out: string, size: number, limit = DEFAULT_MAX_OUTPUT_BYTES): Promise<void> {
  if (size > limit) throw new OutputTooLargeError(out, size, limit, 'the output cap')
  const free = await freeBytes(path.dirname(out))
  if (free !== undefined && size > free) throw new OutputTooLargeError(out, size, free, 'the free space on its disk')
}

async function freeBytes (dir: string): Promise<number | undefined> {
  try {
    const s = await fs.statfs(dir)
    return Number(s.bavail) * Number(s.bsize)
  } catch {
    return undefined
  }
}
