import { KizunaError } from '../errors.js'

/**
 * A counting semaphore with FIFO hand-off: at most `size` holders at once, waiters served in the
 * order they asked. take() resolves to a release function, which is safe to call more than once.
 * Kept instead of p-queue: a slot is held from a disk read until the transport took the block,
 * across several steps, while p-queue bounds running tasks.
 */
export class Slots {
  readonly size: number
  private used = 0
  private readonly waiters: Array<{ grant: () => void }> = []

  constructor (size: number) {
    this.size = Math.max(1, size)
  }

  get inUse (): number {
    return this.used
  }

  get waiting (): number {
    return this.waiters.length
  }

  /** A free slot's release function now, or undefined when one would have to be waited for */
  tryTake (): (() => void) | undefined {
    if (this.used >= this.size || this.waiters.length > 0) return undefined
    this.used++
    return this.releaser()
  }

  async take (signal?: AbortSignal): Promise<() => void> {
    signal?.throwIfAborted()
    const free = this.tryTake()
    if (free !== undefined) return free
    return await new Promise<() => void>((resolve, reject) => {
      const waiter = {
        grant: () => {
          signal?.removeEventListener('abort', onAbort)
          resolve(this.releaser())
        }
      }
      const onAbort = (): void => {
        const i = this.waiters.indexOf(waiter)
        if (i >= 0) this.waiters.splice(i, 1)
        reject(new KizunaError('ERR_ABORTED', 'aborted while waiting for a slot', { cause: signal?.reason }))
      }
      signal?.addEventListener('abort', onAbort, { once: true })
      this.waiters.push(waiter)
    })
  }

  private releaser (): () => void {
    let released = false
    return () => {
      if (released) return
      released = true
      const next = this.waiters.shift()
      if (next !== undefined) {
        // the slot passes straight to the next waiter: `used` stays the same
        next.grant()
      } else {
        this.used--
      }
    }
  }
}
