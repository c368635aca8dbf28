/**
 * Events waiting for one reader, at most `max` of them: past that the oldest go and are counted,
 * so a slow `msg watch` client costs a fixed amount of memory. (it-pushable has no bound.)
 */
export class DropOldestQueue<T> {
  private items: T[] = []
  private head = 0
  private dropped = 0
  private wake?: () => void

  constructor (private readonly max: number) {}

  get size (): number { return this.items.length - this.head }

  push (item: T): void {
    this.items.push(item)
    if (this.size > this.max) {
      this.head++
      this.dropped++
    }
    // compact now and then so the array does not grow with what was taken
    if (this.head > this.max) {
      this.items = this.items.slice(this.head)
      this.head = 0
    }
    this.wake?.()
  }

  /** Events dropped since the last call */
  takeDropped (): number {
    const dropped = this.dropped
    this.dropped = 0
    return dropped
  }

  /** The oldest waiting event, waiting for one; undefined once `signal` aborts */
  async next (signal?: AbortSignal): Promise<T | undefined> {
    while (this.size === 0) {
      if (signal?.aborted === true) return undefined
      await new Promise<void>(resolve => {
        const done = (): void => {
          this.wake = undefined
          signal?.removeEventListener('abort', done)
          resolve()
        }
        this.wake = done
        signal?.addEventListener('abort', done, { once: true })
      })
    }
    if (signal?.aborted === true) return undefined
    const item = this.items[this.head]
    this.items[this.head] = undefined as T
    this.head++
    return item
  }
}
