import fsSync, { type BigIntStats } from 'node:fs'
import fs from 'node:fs/promises'
import path from 'node:path'
import { writeFully, writeFullySync } from '../../util/write-fully.js'

/** A synchronous block write that held the event loop this long sends later writes to the thread pool */
export const SYNC_WRITE_SLOW_MS = 20
/** How long writes stay asynchronous after a slow synchronous one */
export const ASYNC_WRITE_COOLDOWN_MS = 30_000

export interface BlockFileWriterInit {
  /** Write synchronously while the disk is fast (default true); false: always through the thread pool */
  sync?: boolean
  slowMs?: number
  cooldownMs?: number
}

/**
 * Writes a block file crash-safely: the bytes go to `temp`, which is then renamed to `file`, so
 * the file is either absent or complete (a kill -9 leaves at most a stray temp file).
 *
 * While writes are fast (page cache) they are made synchronously. The asynchronous path costs
 * four round trips through the thread pool and back through the event loop (open, write, close,
 * rename), and a receiving daemon's event loop is busy decrypting: each block then waited ~100 ms
 * to be stored, its buffer held all that time, so a 16 MiB request window meant ~18 MiB of blocks
 * waiting in memory. Synchronously a 1 MiB block takes well under a millisecond. A write that
 * blocks for SYNC_WRITE_SLOW_MS (a slow or busy disk) switches to the thread pool for a while, so
 * the daemon keeps answering its peers.
 */
export class BlockFileWriter {
  private readonly sync: boolean
  private readonly slowMs: number
  private readonly cooldownMs: number
  private asyncUntil = 0

  constructor (init: BlockFileWriterInit = {}) {
    this.sync = init.sync ?? true
    this.slowMs = init.slowMs ?? SYNC_WRITE_SLOW_MS
    this.cooldownMs = init.cooldownMs ?? ASYNC_WRITE_COOLDOWN_MS
  }

  /** True while writes go synchronously */
  get synchronous (): boolean {
    return this.sync && performance.now() >= this.asyncUntil
  }

  /**
   * Writes `bytes` to `temp`, creating its directory if missing, and renames it to `file`; returns
   * the stat of `file` after the rename (which changes its ctime)
   */
  async writeAtomically (temp: string, file: string, bytes: Uint8Array): Promise<BigIntStats> {
    return await this.write(temp, file, bytes, true) as BigIntStats
  }

  /** writeAtomically() for a caller with no use for the stat: one system call less (a reference per fetched leaf) */
  async writeAtomicallyNoStat (temp: string, file: string, bytes: Uint8Array): Promise<void> {
    await this.write(temp, file, bytes, false)
  }

  private async write (temp: string, file: string, bytes: Uint8Array, stat: boolean): Promise<BigIntStats | undefined> {
    if (this.synchronous) {
      const started = performance.now()
      try {
        writeSyncCreatingDir(temp, bytes)
        fsSync.renameSync(temp, file)
        return stat ? fsSync.statSync(file, { bigint: true }) : undefined
      } finally {
        if (performance.now() - started >= this.slowMs) this.asyncUntil = performance.now() + this.cooldownMs
      }
    }
    try {
      await writeWhole(temp, bytes)
    } catch (err) {
      if (!isMissing(err)) throw err
      await fs.mkdir(path.dirname(temp), { recursive: true })
      await writeWhole(temp, bytes)
    }
    await fs.rename(temp, file)
    return stat ? await fs.stat(file, { bigint: true }) : undefined
  }
}

function writeSyncCreatingDir (file: string, bytes: Uint8Array): void {
  let fd: number
  try {
    fd = fsSync.openSync(file, 'w')
  } catch (err) {
    if (!isMissing(err)) throw err
    // first block in this shard directory (or the tree was removed under us)
    fsSync.mkdirSync(path.dirname(file), { recursive: true })
    fd = fsSync.openSync(file, 'w')
  }
  try {
    writeFullySync(fd, bytes, 0)
  } finally {
    fsSync.closeSync(fd)
  }
}

/** open, write, close: one write call for the whole block where fs.writeFile makes two of 512 KiB */
async function writeWhole (file: string, bytes: Uint8Array): Promise<void> {
  const handle = await fs.open(file, 'w')
  try {
    await writeFully(handle, bytes, 0)
  } finally {
    await handle.close()
  }
}

function isMissing (err: unknown): boolean {
  return (err as NodeJS.ErrnoException)?.code === 'ENOENT'
}
