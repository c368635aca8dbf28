import { ThroughputMeter } from './throughput.js'
import type { PeerChannel } from './peer-channel.js'
import type { PeerId } from '@libp2p/interface'

/**
 * A DONT_HAVE is remembered this long: a peer that is itself downloading (a swarm, a flash
 * crowd) may have the block a moment later, so it is asked again after this.
 */
export const LACK_MEMORY_MS = 1_000

/** Blocks a provider said it lacks, each forgotten after LACK_MEMORY_MS */
export class LackSet {
  private readonly until = new Map<string, number>()

  add (key: string, now = Date.now()): void {
    this.until.set(key, now + LACK_MEMORY_MS)
  }

  has (key: string, now = Date.now()): boolean {
    const until = this.until.get(key)
    if (until === undefined) return false
    if (until <= now) {
      this.until.delete(key)
      return false
    }
    return true
  }
}

/** First back-off after a BUSY when the server suggests none */
export const INITIAL_BUSY_BACKOFF_MS = 50
export const MAX_BUSY_BACKOFF_MS = 5_000

export interface Outstanding {
  /** Bytes this request is expected to bring, counted against the provider's window */
  estimate: number
  controller: AbortController
}

/**
 * One provider as a fetch session sees it: its channel, what is outstanding on it, how fast it
 * delivers, and how hard it pushed back. The session decides; this only keeps the books.
 */
export class Provider {
  readonly peer: PeerId
  readonly key: string
  status: 'connecting' | 'ready' | 'dropped' = 'connecting'
  channel?: PeerChannel
  /** Set when dropped for misbehaviour: never re-added in this session */
  banned = false
  readonly outstanding = new Map<string, Outstanding>()
  bytesOut = 0
  readonly meter = new ThroughputMeter()
  /** Blocks this provider said it does not have (recently) */
  readonly lacks = new LackSet()
  consecutiveDontHave = 0
  /** Times it was rested after a run of DONT_HAVE; too many and it is dropped */
  rests = 0
  timeouts = 0
  busyUntil = 0
  private backoffMs = INITIAL_BUSY_BACKOFF_MS
  /** Congestion cap on requests, halved on BUSY and grown by one per delivered block */
  cap = Number.POSITIVE_INFINITY
  /** Bytes of window assigned by the scheduler from measured throughput */
  windowBytes = 0
  blocks = 0
  bytes = 0
  /** Removes the session's listeners from the (shared, longer-lived) channel */
  detach: () => void = () => {}

  constructor (peer: PeerId) {
    this.peer = peer
    this.key = peer.toString()
  }

  get requestsOut (): number {
    return this.outstanding.size
  }

  /** Whether one more request of `estimate` bytes fits this provider's window now */
  hasRoom (estimate: number, now: number): boolean {
    if (this.status !== 'ready' || this.busyUntil > now) {
      return false
    }
    const limit = Math.min(this.cap, this.channel?.capacity ?? 1)
    if (this.requestsOut >= limit) {
      return false
    }
    // an empty pipeline always gets one request, whatever its size
    return this.requestsOut === 0 || this.bytesOut + estimate <= this.windowBytes
  }

  add (blockKey: string, estimate: number, controller: AbortController): void {
    if (this.outstanding.size === 0) {
      this.meter.setActive(true)
    }
    this.outstanding.set(blockKey, { estimate, controller })
    this.bytesOut += estimate
  }

  /** Forgets an outstanding request; undefined when it was already settled or cancelled */
  remove (blockKey: string): Outstanding | undefined {
    const o = this.outstanding.get(blockKey)
    if (o === undefined) {
      return undefined
    }
    this.outstanding.delete(blockKey)
    this.bytesOut -= o.estimate
    if (this.outstanding.size === 0) {
      this.meter.setActive(false)
    }
    return o
  }

  delivered (bytes: number): void {
    this.meter.record(bytes)
    this.blocks++
    this.bytes += bytes
    this.consecutiveDontHave = 0
    this.rests = 0
    this.timeouts = 0
    this.backoffMs = INITIAL_BUSY_BACKOFF_MS
    if (Number.isFinite(this.cap)) {
      this.cap++
    }
  }

  /**
   * Server said BUSY: back off exponentially and halve the pipeline (AIMD). A burst of BUSY
   * replies to requests sent together is one congestion signal, so only the first escalates.
   */
  busy (retryAfterMs: number, now: number): void {
    if (now < this.busyUntil) {
      return
    }
    this.busyUntil = now + Math.max(retryAfterMs, this.backoffMs)
    this.backoffMs = Math.min(this.backoffMs * 2, MAX_BUSY_BACKOFF_MS)
    this.cap = Math.max(1, Math.ceil(this.requestsOut / 2))
  }
}
