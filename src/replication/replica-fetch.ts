import type { CID } from 'multiformats/cid'
import type { BlockStore } from '../content/index.js'
import { KizunaError } from '../errors.js'

/**
 * A replica fetch's view of the block store: counts the bytes actually written and refuses
 * the block that would pass `maxBytes` (the size the offer claimed, which is what the quota
 * reserved), and aborts when no block arrived for `stallMs`. An offer lying about its size,
 * or one that never delivers, can hold neither our disk nor a fetch slot
 * (docs/trust-model.md, "Replication").
 */
export class ReplicaFetchGuard {
  readonly store: BlockStore
  readonly signal: AbortSignal
  /** blocks this fetch wrote: deleted again when it fails */
  readonly written: CID[] = []
  bytes = 0
  private readonly controller = new AbortController()
  private readonly inner: BlockStore
  private readonly maxBytes: number
  private readonly stallMs: number
  private timer?: ReturnType<typeof setTimeout>
  private sharedWithGet = false

  constructor (inner: BlockStore, init: { maxBytes: number, stallMs: number }) {
    this.inner = inner
    this.maxBytes = init.maxBytes
    this.stallMs = init.stallMs
    this.signal = this.controller.signal
    this.store = {
      has: async (cid, options) => await inner.has(cid, options),
      get: async (cid, options) => await inner.get(cid, options),
      put: async (cid, bytes, options) => { await this.put(cid, bytes, options) },
      delete: async (cid, options) => { await inner.delete(cid, options) },
      size: async (cid, options) => await inner.size(cid, options),
      putReleasesBytes: inner.putReleasesBytes
    }
    this.arm()
  }

  private async put (cid: CID, bytes: Uint8Array, options?: Parameters<BlockStore['put']>[2]): Promise<void> {
    if (!this.sharedWithGet && this.bytes + bytes.byteLength > this.maxBytes) {
      const err = new KizunaError('ERR_REPLICA_TOO_LARGE', `replica passed its claimed ${this.maxBytes} bytes`)
      this.controller.abort(err)
      throw err
    }
    this.bytes += bytes.byteLength
    this.arm()
    await this.inner.put(cid, bytes, options)
    this.written.push(cid)
  }

  private arm (): void {
    clearTimeout(this.timer)
    if (this.controller.signal.aborted || this.sharedWithGet) return
    this.timer = setTimeout(() => {
      this.controller.abort(new KizunaError('ERR_REPLICA_STALLED', `no block of the replica in ${this.stallMs} ms`))
    }, this.stallMs)
    this.timer.unref?.()
  }

  /** Stops the stall watchdog (the fetch ended) */
  done (): void {
    clearTimeout(this.timer)
  }

  /**
   * Another request of this node (a user's get) joined the same fetch session: the blocks may now
   * go to its store instead (an output file, session-sink.ts), so silence here is no stall; the
   * content is wanted whatever the offer claimed, and what was fetched is kept for that request
   */
  shared (): void {
    this.sharedWithGet = true
    this.done()
  }

  /** Deletes what a failed fetch wrote, so a refused replica leaves no bytes behind (unless shared) */
  async discard (): Promise<void> {
    this.done()
    if (this.sharedWithGet) return
    for (const cid of this.written.splice(0)) await this.inner.delete(cid).catch(() => {})
  }
}
