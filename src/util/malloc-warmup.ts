import { scavengeNow } from './gc-pacer.js'

/**
 * Size of the buffer allocated and freed once at start (see warmUpMalloc). glibc then serves
 * everything below it from its heap and keeps up to twice it free before trimming. 2 MiB (just
 * above a block) still left one publisher run in four at the old cost, 4 and 8 MiB none, with
 * the same peak RSS.
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
 * one of them, which on this project's VMs (pages backed lazily by the host) costs ~3 ms per MiB:
 * a publisher serving 256 MiB measured 1.5-2.6 CPU-s instead of 1.0-1.1, and 20-30% less
 * throughput (64-93 MB/s, with it 87-114). Importing with fresh 1 MiB buffers used to trigger
 * the adjustment by accident; the pooled import buffers (never freed) stopped that, which is
 * how it was found.
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
