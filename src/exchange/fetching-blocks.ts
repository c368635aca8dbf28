/**
 * Blocks this node's own fetch sessions still wait for (found missing, not yet stored), shared
 * by the sessions and the server. A downloader in a crowd is asked for them all the time: the
 * server answers DONT_HAVE from here, without a read slot or a failed look on the disk.
 * Counted per block, as two sessions (two roots) may share one.
 */
export class FetchingBlocks {
  private readonly counts = new Map<string, number>()

  add (key: string): void {
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1)
  }

  delete (key: string): void {
    const n = this.counts.get(key)
    if (n === undefined) return
    if (n <= 1) this.counts.delete(key)
    else this.counts.set(key, n - 1)
  }

  has (key: string): boolean {
    return this.counts.has(key)
  }

  get size (): number {
    return this.counts.size
  }
}

/** One session's share of a FetchingBlocks: what it added, so it takes back each key once */
export class SessionFetching {
  private readonly shared: FetchingBlocks | undefined
  private readonly mine = new Set<string>()

  constructor (shared: FetchingBlocks | undefined) {
    this.shared = shared
  }

  add (key: string): void {
    if (this.shared === undefined || this.mine.has(key)) return
    this.mine.add(key)
    this.shared.add(key)
  }

  /** The block is stored (or the session ends): it is no longer missing on our account */
  done (key: string): void {
    if (this.shared === undefined || !this.mine.delete(key)) return
    this.shared.delete(key)
  }

  clear (): void {
    for (const key of this.mine) this.shared?.delete(key)
    this.mine.clear()
  }
}
