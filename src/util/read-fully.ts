import type { FileHandle } from 'node:fs/promises'

/**
 * Reads from `position` until `into` is full or the file ends (one read may return fewer bytes
 * than asked); returns how many bytes were read, less than `into.byteLength` at end of file.
 */
export async function readFully (handle: FileHandle, into: Uint8Array, position: number): Promise<number> {
  let done = 0
  while (done < into.byteLength) {
    const { bytesRead } = await handle.read(into, done, into.byteLength - done, position + done)
    if (bytesRead === 0) break
    done += bytesRead
  }
  return done
}
