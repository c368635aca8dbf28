import { EventEmitter } from 'node:events'
import type { PeerId } from '@libp2p/interface'
import type { PeerRecord, PeerView } from './peer-view.js'
import { timeoutSignal } from '../util/timeout-signal.js'

/** Pings in flight at once during a round: enough to finish quickly, few enough to stay cheap */
export const DEFAULT_PING_CONCURRENCY = 8

export interface LivenessComponents {
  view: PeerView
  /** Resolves with the round-trip time in ms, rejects when the peer does not answer in time */
  ping(peerId: PeerId, options: { signal: AbortSignal }): Promise<number>
  evict(record: PeerRecord, reason: string): Promise<void>
}

export interface LivenessInit {
  /** ms between the end of one round and the start of the next */
  refreshIntervalMs: number
  /** ms one ping may take */
  pingTimeoutMs: number
  /** ms of silence after which a peer is evicted */
  peerTimeoutMs: number
  concurrency?: number
}

export interface LivenessRoundResult {
  pinged: number
  answered: number
  evicted: string[]
  durationMs: number
}

/**
 * Refresh and evict (principles 3 and 6): every round pings each known peer, records RTT and
 * last-seen, and evicts peers silent for longer than `peerTimeout`. A ping, not the socket
 * state, is the test: a SIGSTOPped process keeps its sockets open but never answers.
 */
export class LivenessService extends EventEmitter<{ 'liveness:round': [LivenessRoundResult] }> {
  private readonly components: LivenessComponents
  private readonly init: Required<LivenessInit>
  private timer?: ReturnType<typeof setTimeout>
  private controller?: AbortController
  private currentRound?: Promise<LivenessRoundResult>

  constructor (components: LivenessComponents, init: LivenessInit) {
    super()
    this.components = components
    this.init = { concurrency: DEFAULT_PING_CONCURRENCY, ...init }
  }

  isStarted (): boolean {
    return this.controller != null
  }

  start (): void {
    if (this.controller != null) {
      return
    }
    this.controller = new AbortController()
    this.schedule()
  }

  async stop (): Promise<void> {
    if (this.controller == null) {
      return
    }
    this.controller.abort()
    this.controller = undefined
    clearTimeout(this.timer)
    await this.currentRound?.catch(() => {})
  }

  private schedule (): void {
    const signal = this.controller?.signal
    if (signal == null) {
      return
    }
    this.timer = setTimeout(() => {
      this.currentRound = this.runRound(signal)
      this.currentRound
        .then(result => { this.emit('liveness:round', result) })
        .catch(() => {})
        .finally(() => { this.schedule() })
    }, this.init.refreshIntervalMs)
    this.timer.unref?.()
  }

  /** One liveness round; also callable directly (tests, `kizuna peers --refresh`) */
  async runRound (signal: AbortSignal = new AbortController().signal): Promise<LivenessRoundResult> {
    const started = Date.now()
    const records = this.components.view.list()
    let answered = 0
    let next = 0
    const worker = async (): Promise<void> => {
      while (next < records.length && !signal.aborted) {
        const record = records[next++]
        if (await this.probe(record, signal)) {
          answered++
        }
      }
    }
    await Promise.all(Array.from({ length: Math.min(this.init.concurrency, records.length) }, worker))

    const evicted: string[] = []
    for (const record of this.components.view.list()) {
      if (signal.aborted) {
        break
      }
      if (this.components.view.silentFor(record) > this.init.peerTimeoutMs) {
        const silentMs = this.components.view.silentFor(record)
        await this.components.evict(record, `no answer for ${Math.round(silentMs / 1000)} s (peerTimeout ${this.init.peerTimeoutMs / 1000} s)`)
        evicted.push(record.peerId.toString())
      }
    }
    return { pinged: records.length, answered, evicted, durationMs: Date.now() - started }
  }

  private async probe (record: PeerRecord, outer: AbortSignal): Promise<boolean> {
    const signal = AbortSignal.any([outer, timeoutSignal(this.init.pingTimeoutMs)])
    try {
      const rtt = await this.components.ping(record.peerId, { signal })
      this.components.view.markAlive(record.peerId, rtt)
      return true
    } catch {
      this.components.view.markMissed(record.peerId)
      return false
    }
  }
}
