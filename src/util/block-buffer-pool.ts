/**
 * Recycled block-sized buffers for the exchange's hot paths (assembling a received BLOCK frame,
 * reading a block to serve). A fresh 1 MiB buffer is page-faulted in from the kernel, several
 * times what hashing the block costs; a recycled one costs a memcpy (docs/design-notes.md).
 *
 * Ownership is explicit: whoever took a buffer releases it exactly once, when nothing can read it
 * any more. Forgetting to release is harmless (the garbage collector takes the buffer, the pool
 * makes a new one); releasing too early is data corruption, so every release site must be sure.
 * `poison` (tests) overwrites released buffers, so a use after release shows up as a hash mismatch.
 */
export interface BlockBufferPoolInit {
  /** Capacity of each pooled buffer; larger requests get a fresh buffer */
  bufferSize: number
  /** Requests smaller than this get a fresh buffer (small allocations come cheap from the heap) */
  minSize?: number
  /** Free buffers kept at most */
  maxFree?: number
  /** Free buffers are dropped after this long without a take(), so an idle daemon gives the memory back */
  idleTrimMs?: number
  /** Fill released buffers with a pattern (tests: makes a use after release visible) */
  poison?: boolean
}

export class BlockBufferPool {
  readonly bufferSize: number
  readonly minSize: number
  readonly maxFree: number
  private readonly idleTrimMs: number
  poison: boolean
  private readonly free: ArrayBuffer[] = []
  /** Buffers this pool made that are currently handed out */
  private readonly lent = new WeakSet<ArrayBufferLike>()
  private trimTimer?: ReturnType<typeof setTimeout>
  private lastTake = 0
  /** Counters for tests and diagnostics */
  created = 0
  reused = 0

  constructor (init: BlockBufferPoolInit) {
    this.bufferSize = init.bufferSize
    this.minSize = init.minSize ?? 64 * 1024
    this.maxFree = init.maxFree ?? 16
    this.idleTrimMs = init.idleTrimMs ?? 10_000
    this.poison = init.poison ?? false
  }

  get freeCount (): number {
    return this.free.length
  }

  /** True when take(size) would come from the pool */
  pooled (size: number): boolean {
    return size >= this.minSize && size <= this.bufferSize
  }

  /**
   * A buffer of exactly `size` bytes (contents undefined). Pooled when pooled(size); either way
   * it may be passed to release() when done.
   */
  take (size: number): Uint8Array {
    if (!this.pooled(size)) {
      return new Uint8Array(size)
    }
    this.lastTake = performance.now()
    let buffer = this.free.pop()
    if (buffer === undefined) {
      buffer = new ArrayBuffer(this.bufferSize)
      this.created++
    } else {
      this.reused++
    }
    this.lent.add(buffer)
    this.armTrim()
    return new Uint8Array(buffer, 0, size)
  }

  /** True when `view` is (a view of) a buffer this pool lent and that is not back yet */
  owns (view: Uint8Array): boolean {
    return this.lent.has(view.buffer)
  }

  /**
   * Gives back a buffer from take() (any view of it). Anything else, and a second release of the
   * same buffer, is ignored.
   */
  release (view: Uint8Array | undefined): void {
    if (view === undefined) {
      return
    }
    const buffer = view.buffer as ArrayBuffer
    if (!this.lent.has(buffer)) {
      return
    }
    this.lent.delete(buffer)
    if (this.poison) {
      new Uint8Array(buffer).fill(0xa5)
    }
    if (this.free.length < this.maxFree) {
      this.free.push(buffer)
    }
  }

  /** Drops every free buffer */
  trim (): void {
    this.free.length = 0
  }

  private armTrim (): void {
    if (this.trimTimer !== undefined) {
      return
    }
    const check = (): void => {
      const idle = performance.now() - this.lastTake
      if (idle >= this.idleTrimMs) {
        this.trimTimer = undefined
        this.trim()
        return
      }
      this.trimTimer = setTimeout(check, this.idleTrimMs - idle + 10)
      this.trimTimer.unref?.()
    }
    this.trimTimer = setTimeout(check, this.idleTrimMs)
    this.trimTimer.unref?.()
  }
}

/**
 * The process-wide pool for 1 MiB blocks (our layout's leaves; see content/unixfs/layout.ts). Larger
 * blocks, up to MAX_BLOCK_SIZE, are rare and get fresh buffers. 16 free buffers cover the
 * exchange's 8 MiB of blocks being stored plus those being served. It holds memory only (no
 * timer until first used, an unref'd idle trim after), so sharing it changes nothing else in the process.
 */
export const blockBufferPool = new BlockBufferPool({ bufferSize: 1024 * 1024 })
