import { scavengeNow } from './gc-pacer.js'

/**
 * Size of the buffer allocated and freed once at start (see warmUpMalloc). glibc then serves
 * everything below it from its heap; 2 MiB was not always enough (docs/design-notes.md).
 */
export const MALLOC_WARMUP_BYTES = 4 * 1024 * 1024

let warmed = false

/**
 * Moves glibc malloc's mmap threshold above our block size, once per process.
 *
 * glibc serves every allocation of 128 KiB or more with its own mmap and returns it with munmap
 * on free, until the first time it frees such a chunk: then it raises the threshold to that
 * chunk's size and keeps freed memory for reuse. Transport and crypto buffers for 1 MiB blocks
 * are above 128 KiB, so a process that never freed a large chunk faults fresh pages in for every
 * one of them, which costs a publisher CPU and throughput (docs/design-notes.md).
 *
 * Allocating and freeing one large buffer (freed by a scavenge right away where the collector
 * is reachable, otherwise by the next one) sets the threshold deliberately.
 */
export function warmUpMalloc (): void {
  if (warmed) {
    return
  }
  warmed = true
  let buffer: Buffer | undefined = Buffer.allocUnsafeSlow(MALLOC_WARMUP_BYTES)
  buffer[0] = 1 // touch it, so the allocation cannot be elided
  buffer = undefined
  scavengeNow()
}
