/** How fast a peer's measured rate forgets the past */
export const DEFAULT_THROUGHPUT_HALF_LIFE_MS = 2_000

/**
 * Exponentially decayed bytes / busy time for one peer. Only time during which the peer had
 * requests outstanding counts, so a peer that was idle for lack of work is not rated slow.
 */
export class ThroughputMeter {
  private readonly halfLifeMs: number
  private bytes = 0
  private busyMs = 0
  private last: number
  private active = false

  constructor (halfLifeMs = DEFAULT_THROUGHPUT_HALF_LIFE_MS, now = performance.now()) {
    this.halfLifeMs = halfLifeMs
    this.last = now
  }

  /** Marks whether the peer currently has requests outstanding */
  setActive (active: boolean, now = performance.now()): void {
    this.advance(now)
    this.active = active
  }

  record (bytes: number, now = performance.now()): void {
    this.advance(now)
    this.bytes += bytes
  }

  /** Bytes per second, or undefined before anything was measured */
  rate (now = performance.now()): number | undefined {
    this.advance(now)
    if (this.bytes <= 0 || this.busyMs <= 0) {
      return undefined
    }
    // over a very short busy time a single block would read as an absurd rate; 5 ms floors it
    return this.bytes / Math.max(this.busyMs, 5) * 1000
  }

  private advance (now: number): void {
    const dt = now - this.last
    if (dt <= 0) {
      return
    }
    this.last = now
    const decay = Math.pow(2, -dt / this.halfLifeMs)
    this.bytes *= decay
    // integral of the decayed busy indicator over the elapsed interval
    this.busyMs = this.busyMs * decay + (this.active ? this.halfLifeMs / Math.LN2 * (1 - decay) : 0)
  }
}
