import { setMaxListeners } from 'node:events'
import { connect, type Socket } from 'node:net'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { Libp2p } from 'libp2p'

/** One flood dial gets this long: a refused one ends in milliseconds, an accepted one after Noise and Yamux */
export const FLOOD_DIAL_TIMEOUT_MS = 10_000

export interface FloodOptions {
  /** Each identity waits this long between its dials: the flood's pace, not a wait for a condition */
  pauseMs: number
  /** Dials over all identities, at most */
  maxAttempts: number
}

export interface FloodResult {
  attempts: number
  /** Dials that ended with an upgraded connection: the target let them in */
  accepted: number
  /** Dials that failed, by error name (or code) */
  refusals: Record<string, number>
  /** Dials that hit their timeout: the target may have let them in, so a bound must count them as accepted */
  undecided: number
  /** From the first dial's start to the last one's end (ms since the epoch) */
  firstAt: number
  lastAt: number
}

/**
 * Many libp2p identities dialling one target over and over (libp2p's `force`: a new connection
 * each time), each connection closed as soon as it is up. Their sockets leave through whatever
 * `target` points at, e.g. a lab forwarder, so the target sees them all from one IP.
 */
export class ConnectionFlood {
  private readonly identities: Libp2p[]
  private readonly target: Multiaddr
  private readonly options: FloodOptions
  private readonly result: FloodResult = { attempts: 0, accepted: 0, refusals: {}, undecided: 0, firstAt: 0, lastAt: 0 }
  private readonly stopController = new AbortController()
  private loops: Array<Promise<void>> = []

  constructor (identities: Libp2p[], target: Multiaddr, options: FloodOptions) {
    this.identities = identities
    this.target = target
    this.options = options
    // every identity's pause listens on it
    setMaxListeners(identities.length + 10, this.stopController.signal)
  }

  /** What the flood has done so far */
  get progress (): Readonly<FloodResult> {
    return this.result
  }

  start (): void {
    this.result.firstAt = Date.now()
    this.loops = this.identities.map(async identity => { await this.loop(identity) })
  }

  /**
   * Starts no more dials, lets those in flight end (within FLOOD_DIAL_TIMEOUT_MS: each one's fate
   * counts) and returns the totals
   */
  async stop (): Promise<FloodResult> {
    this.stopController.abort()
    await Promise.all(this.loops)
    return { ...this.result, refusals: { ...this.result.refusals } }
  }

  private async loop (identity: Libp2p): Promise<void> {
    const stopped = this.stopController.signal
    while (!stopped.aborted && this.result.attempts < this.options.maxAttempts) {
      this.result.attempts++
      const timeout = AbortSignal.timeout(FLOOD_DIAL_TIMEOUT_MS)
      try {
        const connection = await identity.dial(this.target, { force: true, signal: timeout })
        this.result.accepted++
        // abort: a flooder has no reason to close politely, and it frees the identity for its next dial at once
        connection.abort(new Error('flood connection dropped'))
      } catch (err) {
        if (timeout.aborted) {
          this.result.undecided++
        } else {
          const name = (err as { code?: string }).code ?? (err as Error).name
          this.result.refusals[name] = (this.result.refusals[name] ?? 0) + 1
        }
      }
      this.result.lastAt = Date.now()
      await pause(this.options.pauseMs, stopped)
    }
  }
}

async function pause (ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return
  await new Promise<void>(resolve => {
    const timer = setTimeout(done, ms)
    function done (): void {
      clearTimeout(timer)
      signal.removeEventListener('abort', done)
      resolve()
    }
    signal.addEventListener('abort', done, { once: true })
  })
}

export interface StallResult {
  /** TCP connections opened */
  opened: number
  /** Of them, closed by the target before stop(): denied at once, or dropped at its handshake timeout */
  closedByTarget: number
}

/**
 * TCP connections that never start their handshake (a slowloris): each holds one of the
 * target's slots for connections being upgraded until the target's upgrade timeout drops it.
 * One is opened every `everyMs` up to `max`; stop() closes those still open.
 */
export class StalledConnections {
  /** Open sockets, with when each was opened */
  private readonly sockets = new Map<Socket, number>()
  private readonly result: StallResult = { opened: 0, closedByTarget: 0 }
  private timer?: NodeJS.Timeout
  private stopped = false

  constructor (private readonly port: number, private readonly options: { everyMs: number, max: number }) {}

  /**
   * Connections open for at least `ms`: a denied one is closed within moments, so one open a
   * second later was let in and sits in the target's handshake
   */
  heldFor (ms: number): number {
    const before = Date.now() - ms
    return [...this.sockets.values()].filter(openedAt => openedAt <= before).length
  }

  start (): void {
    this.timer = setInterval(() => {
      if (this.result.opened >= this.options.max) { clearInterval(this.timer); return }
      this.result.opened++
      const socket = connect(this.port, '127.0.0.1')
      this.sockets.set(socket, Date.now())
      socket.on('error', () => {})
      socket.on('close', () => {
        this.sockets.delete(socket)
        if (!this.stopped) this.result.closedByTarget++
      })
    }, this.options.everyMs)
  }

  stop (): StallResult {
    this.stopped = true
    clearInterval(this.timer)
    for (const socket of this.sockets.keys()) socket.destroy()
    return { ...this.result }
  }
}
