/**
 * A one-consumer queue that turns callbacks fired deep inside a library (the UnixFS importer pulls
 * our file streams; we cannot yield from there) into values an async generator can yield.
 *
 * Values pushed with `{ latest: true }` replace an unconsumed value that was also pushed that way,
 * so a slow consumer of progress events sees the newest count instead of an ever-growing backlog.
 * Kept instead of it-pushable, which has no such coalescing.
 */
export class AsyncQueue<T> {
  private readonly buffer: Array<{ value: T, latest: boolean }> = []
  private ended = false
  private error: unknown
  private failed = false
  private wake?: () => void

  push (value: T, options: { latest?: boolean } = {}): void {
    if (this.ended) {
      return
    }
    const latest = options.latest === true
    const last = this.buffer[this.buffer.length - 1]
    if (latest && last?.latest === true) {
      last.value = value
    } else {
      this.buffer.push({ value, latest })
    }
    this.notify()
  }

  /** No more values; with an error the consumer throws it after draining what was queued */
  end (err?: unknown): void {
    if (this.ended) {
      return
    }
    this.ended = true
    if (err !== undefined) {
      this.failed = true
      this.error = err
    }
    this.notify()
  }

  async * [Symbol.asyncIterator] (): AsyncGenerator<T, void, undefined> {
    while (true) {
      const next = this.buffer.shift()
      if (next != null) {
        yield next.value
        continue
      }
      if (this.ended) {
        if (this.failed) {
          throw this.error
        }
        return
      }
      await new Promise<void>(resolve => { this.wake = resolve })
    }
  }

  private notify (): void {
    const wake = this.wake
    this.wake = undefined
    wake?.()
  }
}
