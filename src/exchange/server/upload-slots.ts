import { Slots } from '../../util/slots.js'
import { timeoutSignal } from '../../util/timeout-signal.js'

/**
 * Upload slots: the blocks a server sends at once, all peers together (BitTorrent's unchoke
 * slots). Sixteen blocks sent side by side on a 10 Mbit/s uplink each took sixteen block-times to
 * arrive, so for the first 13 s of a flash crowd nobody held a block to pass on; a few at a
 * time, the first copies land within a few block-times and their holders start serving.
 *
 * A slot is held until the block has left our process (the transport's buffers are empty, so the
 * kernel holds at most a socket buffer of it), and at most maxHoldMs: a peer that reads slowly
 * keeps its block coming but not the slot. A request that waited maxWaitMs for a slot is turned
 * away (BUSY), so its asker tries another holder instead of queueing behind a popular one.
 */
/** One stream's read-ahead (READ_AHEAD_BLOCKS), so a lone downloader is served as fast as without slots */
export const DEFAULT_UPLOAD_SLOTS = 3
/**
 * Longer than three blocks take on a 10 Mbit/s uplink (2.5 s each, side by side): at 2 s the
 * slots came free while their blocks were still on the wire, so more went out side by side, each later.
 * Lab crowd, 10 Mbit/s, 16 MiB, 4 runs each alternated: median 1.84-2.07x lone, against 2.06-2.44x at 2 s.
 */
export const UPLOAD_SLOT_MAX_HOLD_MS = 10_000
export const UPLOAD_SLOT_MAX_WAIT_MS = 5_000
/** How often a held slot checks whether its block has left */
const SENT_CHECK_MS = 5

export interface UploadSlotsInit {
  slots?: number
  maxHoldMs?: number
  maxWaitMs?: number
}

export class UploadSlots {
  private readonly slots: Slots
  private readonly maxHoldMs: number
  private readonly maxWaitMs: number
  /** requests turned away after waiting maxWaitMs */
  turnedAway = 0

  constructor (init: UploadSlotsInit = {}) {
    this.slots = new Slots(init.slots ?? DEFAULT_UPLOAD_SLOTS)
    this.maxHoldMs = init.maxHoldMs ?? UPLOAD_SLOT_MAX_HOLD_MS
    this.maxWaitMs = init.maxWaitMs ?? UPLOAD_SLOT_MAX_WAIT_MS
  }

  get inUse (): number {
    return this.slots.inUse
  }

  get waiting (): number {
    return this.slots.waiting
  }

  /**
   * A slot's release function, or undefined when none came free within maxWaitMs. Rejects when
   * `signal` aborts (the stream closed).
   */
  async take (signal: AbortSignal): Promise<(() => void) | undefined> {
    signal.throwIfAborted()
    // a free slot needs no timer
    const free = this.slots.tryTake()
    if (free !== undefined) return free
    try {
      return await this.slots.take(AbortSignal.any([signal, timeoutSignal(this.maxWaitMs)]))
    } catch (err) {
      if (signal.aborted) throw err
      this.turnedAway++
      return undefined
    }
  }

  /** Calls `release` once `sent()` is true, or after maxHoldMs, whichever comes first */
  holdUntil (sent: () => boolean, release: () => void): void {
    const until = performance.now() + this.maxHoldMs
    const check = (): void => {
      if (sent() || performance.now() >= until) {
        release()
        return
      }
      setTimeout(check, SENT_CHECK_MS)
    }
    check()
  }
}
