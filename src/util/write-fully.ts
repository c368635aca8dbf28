import fs from 'node:fs'
import type { FileHandle } from 'node:fs/promises'

/**
 * Writes all of `bytes` through `handle`: one write may take fewer bytes than asked. At
 * `position` in the file, or at the file's current position when null.
 */
export async function writeFully (handle: FileHandle, bytes: Uint8Array, position: number | null = null): Promise<void> {
  let done = 0
  while (done < bytes.byteLength) {
    const { bytesWritten } = await handle.write(bytes, done, bytes.byteLength - done, position === null ? null : position + done)
    done += bytesWritten
  }
}

/** writeFully for a file descriptor, synchronously */
export function writeFullySync (fd: number, bytes: Uint8Array, position: number): void {
  let done = 0
  while (done < bytes.byteLength) {
    done += fs.writeSync(fd, bytes, done, bytes.byteLength - done, position + done)
  }
}
