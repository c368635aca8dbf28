export type Release = () => void

interface Waiter {
  exclusive: boolean
  grant: () => void
}

/**
 * A FIFO readers-writer lock guarding block garbage collection.
 *
 * Writers of content (imports, recording a finished download) hold it shared while their blocks
 * are not yet referenced by the index; anything that deletes blocks holds it exclusively. Without
 * it, `remove` could delete a block that an import had just deduplicated against (has() said yes,
 * so the import skipped writing it) and the import would then record an incomplete DAG.
 *
 * FIFO: a queued writer blocks later readers, so a stream of imports cannot starve a remove.
 * Kept instead of mortice, which keeps a process-wide registry of named locks (and coordinates
 * cluster workers unless told not to); each node's content index needs its own lock.
 */
export class RwLock {
  private readers = 0
  private writer = false
  private readonly queue: Waiter[] = []

  async shared (options: { signal?: AbortSignal } = {}): Promise<Release> {
    return this.acquire(false, options.signal)
  }

  async exclusive (options: { signal?: AbortSignal } = {}): Promise<Release> {
    return this.acquire(true, options.signal)
  }

  private async acquire (exclusive: boolean, signal?: AbortSignal): Promise<Release> {
    signal?.throwIfAborted()

    if (this.queue.length === 0 && this.canGrant(exclusive)) {
      this.take(exclusive)
      return this.releaser(exclusive)
    }

    return new Promise<Release>((resolve, reject) => {
      const waiter: Waiter = {
        exclusive,
        grant: () => {
          signal?.removeEventListener('abort', onAbort)
          this.take(exclusive)
          resolve(this.releaser(exclusive))
        }
      }
      const onAbort = (): void => {
        const index = this.queue.indexOf(waiter)
        if (index !== -1) {
          this.queue.splice(index, 1)
          // we may have been the writer holding back readers behind us
          this.drain()
        }
        reject(signal?.reason)
      }
      signal?.addEventListener('abort', onAbort, { once: true })
      this.queue.push(waiter)
    })
  }

  private canGrant (exclusive: boolean): boolean {
    return exclusive ? !this.writer && this.readers === 0 : !this.writer
  }

  private take (exclusive: boolean): void {
    if (exclusive) {
      this.writer = true
    } else {
      this.readers++
    }
  }

  private releaser (exclusive: boolean): Release {
    let released = false
    return () => {
      if (released) {
        return
      }
      released = true
      if (exclusive) {
        this.writer = false
      } else {
        this.readers--
      }
      this.drain()
    }
  }

  private drain (): void {
    while (this.queue.length > 0 && this.canGrant(this.queue[0].exclusive)) {
      const next = this.queue.shift() as Waiter
      next.grant()
    }
  }
}
