import type { CID } from 'multiformats/cid'

export interface QueuedBlock {
  cid: CID
  /** blockKey(cid), computed once */
  key: string
}

/** Entries a `take` looks at before giving up, so a peer lacking many blocks costs O(1) per call */
const DEFAULT_SCAN_LIMIT = 256

/**
 * The blocks still to request, in discovery order. Blocks whose request failed go back to the
 * front so a stuck block is retried before newer work.
 */
export class BlockQueue {
  private items: QueuedBlock[] = []
  private head = 0

  get size (): number {
    return this.items.length - this.head
  }

  pushBack (cid: QueuedBlock): void {
    this.items.push(cid)
  }

  pushFront (cid: QueuedBlock): void {
    if (this.head > 0) {
      this.items[--this.head] = cid
    } else {
      this.items.unshift(cid)
    }
  }

  /** Removes and returns the first block `accept` takes, looking at most `scanLimit` entries */
  take (accept: (block: QueuedBlock) => boolean, scanLimit = DEFAULT_SCAN_LIMIT): QueuedBlock | undefined {
    const end = Math.min(this.items.length, this.head + scanLimit)
    for (let i = this.head; i < end; i++) {
      const cid = this.items[i]
      if (!accept(cid)) {
        continue
      }
      if (i === this.head) {
        this.head++
        this.compact()
      } else {
        this.items.splice(i, 1)
      }
      return cid
    }
    return undefined
  }

  /** True when `accept` takes any of the first `scanLimit` entries */
  some (accept: (block: QueuedBlock) => boolean, scanLimit = DEFAULT_SCAN_LIMIT): boolean {
    const end = Math.min(this.items.length, this.head + scanLimit)
    for (let i = this.head; i < end; i++) {
      if (accept(this.items[i])) {
        return true
      }
    }
    return false
  }

  toArray (): QueuedBlock[] {
    return this.items.slice(this.head)
  }

  private compact (): void {
    // drop the consumed prefix once it dominates, keeping pushes and takes amortised O(1)
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head)
      this.head = 0
    }
  }
}
