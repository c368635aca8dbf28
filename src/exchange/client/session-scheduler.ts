import * as raw from 'multiformats/codecs/raw'
import { verifyBlock } from '../../content/index.js'
import { BlockQueue, type QueuedBlock } from './block-queue.js'
import { RequestTimeoutError } from '../errors.js'
import { DEFAULT_REQUEST_TIMEOUT_MS, type PeerChannel, type WantResult } from './peer-channel.js'
import {
  DEFAULT_ENDGAME_BLOCKS, DEFAULT_ENDGAME_PEERS_PER_BLOCK, DEFAULT_MAX_TIMEOUTS_PER_PEER,
  DEFAULT_MAX_WINDOW_BYTES_PER_PEER, DEFAULT_MIN_WINDOW_BYTES_PER_PEER, DEFAULT_TOTAL_WINDOW_BYTES,
  DEFAULT_WINDOW_QUEUE_TIME_MS, DONT_HAVE_REST_MS,
  MAX_CONSECUTIVE_DONT_HAVE, MAX_DONT_HAVE_RESTS, type FetchOptions
} from './session-options.js'
import { shareWindow } from './windows.js'
import { endgameQuietMs, inEndgameTail } from './endgame-policy.js'
import { blockBufferPool } from '../../util/block-buffer-pool.js'
import type { DropReason } from './fetch-events.js'
import { LACK_MEMORY_MS, type Provider } from './provider.js'
import type { Wakeup } from './wakeup.js'
import type { KizunaError } from '../../errors.js'
import type { CID } from 'multiformats/cid'

/** Size assumed for a block before any of its codec was seen; leaves are usually 1 MiB */
const INITIAL_BLOCK_SIZE_ESTIMATE = 1024 * 1024

interface Inflight {
  cid: CID
  key: string
  /** Provider key → that provider's request for this block */
  peers: Set<string>
  /** when it was first requested (performance.now()) */
  since: number
}

/** What the scheduler needs from the session that owns the providers and the received blocks */
export interface SchedulerHost {
  provider: (key: string) => Provider | undefined
  drop: (p: Provider, reason: DropReason, err?: Error) => void
  /** A request to `p` failed because its channel did */
  channelFailed: (p: Provider, channel: PeerChannel) => void
  /** A block came, verified unless the store is left to verify it, for the session to store */
  received: (cid: CID, bytes: Uint8Array, from: Provider) => void
  fail: (err: unknown) => void
  wakeup: Wakeup
}

/**
 * Decides which provider is asked for which block: windows shared by measured throughput, a
 * second provider for the last blocks (endgame), back-off after BUSY and rests after runs of
 * DONT_HAVE. Whatever a provider fails to deliver goes back to the front of the queue.
 */
export class RequestScheduler {
  private readonly opts: FetchOptions
  private readonly host: SchedulerHost
  private readonly queue = new BlockQueue()
  private readonly inflight = new Map<string, Inflight>()
  private readonly sizeByCodec = new Map<number, { total: number, count: number }>()
  private duplicates = 0
  /** blocks found to fetch so far (retries not counted): sizes the endgame's tail */
  private found = 0
  private wasted = 0
  /** wakes the scheduler when the earliest BUSY back-off ends */
  private readonly backoffTimer = new EarliestTimer(() => { this.host.wakeup.wake() })
  /** provider key → when it last delivered a block (performance.now()) */
  private readonly lastDelivery = new Map<string, number>()
  /** wakes the scheduler when an endgame block may have stalled: no result may wake it before */
  private readonly stallTimer = new EarliestTimer(() => { this.host.wakeup.wake() })

  constructor (opts: FetchOptions, host: SchedulerHost) {
    this.opts = opts
    this.host = host
  }

  get queued (): number {
    return this.queue.size
  }

  get inFlight (): number {
    return this.inflight.size
  }

  /** Blocks that came from two providers in endgame */
  get duplicateBlocks (): number {
    return this.duplicates
  }

  /** Bytes received and thrown away: endgame duplicates and blocks that arrived after their cancel */
  get wastedBytes (): number {
    return this.wasted
  }

  /** A block found missing: requested after those found before it */
  enqueue (block: QueuedBlock): void {
    this.found++
    this.queue.pushBack(block)
  }

  /** A block whose bytes turned out bad: requested again before newer work */
  retry (block: QueuedBlock): void {
    this.queue.pushFront(block)
  }

  /** Whether `p` could be asked for a block still queued */
  hasWorkFor (p: Provider): boolean {
    return this.queue.some(b => !p.lacks.has(b.key))
  }

  /** Blocks not fetched yet, queued or requested */
  remaining (): CID[] {
    return [...this.queue.toArray(), ...this.inflight.values()].map(b => b.cid)
  }

  noteSize (cid: CID, size: number): void {
    const s = this.sizeByCodec.get(cid.code) ?? { total: 0, count: 0 }
    s.total += size
    s.count++
    this.sizeByCodec.set(cid.code, s)
  }

  /** Fills the windows of the `ready` providers; `discovering` while more blocks may be found */
  schedule (ready: Provider[], now: number, discovering: boolean): void {
    this.assignWindows(ready, now)
    ready.sort((a, b) => b.windowBytes - a.windowBytes)

    for (const p of ready) {
      while (this.queue.size > 0 && p.hasRoom(0, now)) {
        const next = this.queue.take(b => p.hasRoom(this.estimate(b.cid), now) && !p.lacks.has(b.key))
        if (next === undefined) {
          break
        }
        this.issue(p, next.cid, this.newInflight(next))
      }
    }

    if (this.queue.size === 0 && !discovering && this.inflight.size > 0 &&
        this.inflight.size <= (this.opts.endgameBlocks ?? DEFAULT_ENDGAME_BLOCKS)) {
      this.endgame(ready, now)
    }
    this.armBackoffTimer(ready, now)
  }

  /** Cancels what a dropped provider still owed and queues what nobody else was asked for */
  withdraw (p: Provider): void {
    for (const key of [...p.outstanding.keys()]) {
      p.remove(key)?.controller.abort()
      const entry = this.inflight.get(key)
      if (entry !== undefined) {
        entry.peers.delete(p.key)
        this.requeueIfOrphaned(entry)
      }
    }
  }

  stop (): void {
    this.backoffTimer.clear()
    this.stallTimer.clear()
  }

  private assignWindows (ready: Provider[], now: number): void {
    const windows = shareWindow(ready.map(p => p.meter.rate(now)), {
      total: this.opts.totalWindowBytes ?? DEFAULT_TOTAL_WINDOW_BYTES,
      max: this.opts.maxWindowBytesPerPeer ?? DEFAULT_MAX_WINDOW_BYTES_PER_PEER,
      min: this.opts.minWindowBytesPerPeer ?? DEFAULT_MIN_WINDOW_BYTES_PER_PEER,
      queueTimeMs: DEFAULT_WINDOW_QUEUE_TIME_MS
    })
    ready.forEach((p, i) => { p.windowBytes = windows[i] })
  }

  private endgame (ready: Provider[], now: number): void {
    const perBlock = this.opts.endgamePeersPerBlock ?? DEFAULT_ENDGAME_PEERS_PER_BLOCK
    const tail = inEndgameTail(this.inflight.size, this.found)
    let nextCheck = Number.POSITIVE_INFINITY
    for (const p of ready) {
      // Map order is request order: the longest-waiting blocks get a second provider first
      for (const entry of this.inflight.values()) {
        if (entry.peers.size >= perBlock || entry.peers.has(p.key) || p.lacks.has(entry.key)) {
          continue
        }
        const stalledAt = this.stalledAt(entry, now, tail)
        if (stalledAt > now) {
          nextCheck = Math.min(nextCheck, stalledAt)
          continue
        }
        if (!p.hasRoom(this.estimate(entry.cid), now)) {
          break
        }
        this.issue(p, entry.cid, entry)
      }
    }
    this.armStallTimer(nextCheck, now)
  }

  /** When the providers asked for `entry` count as stalled on it (see ENDGAME_STALL_BLOCK_TIMES) */
  private stalledAt (entry: Inflight, now: number, tail: boolean): number {
    let at = Number.NEGATIVE_INFINITY
    for (const key of entry.peers) {
      const p = this.host.provider(key)
      if (p === undefined) continue
      const rate = p.meter.rate(now)
      const blockTimeMs = rate === undefined ? 0 : this.estimate(entry.cid) / rate * 1000
      const quiet = endgameQuietMs(tail, blockTimeMs)
      // bytes still arriving on its channel are a block under way on a slow link, not a stall
      const lastBytes = p.channel?.lastReadAt ?? entry.since
      at = Math.max(at, Math.max(entry.since, this.lastDelivery.get(key) ?? entry.since, lastBytes) + quiet)
    }
    return at
  }

  private armStallTimer (at: number, now: number): void {
    this.stallTimer.armAt(at, now)
  }

  private newInflight (block: QueuedBlock): Inflight {
    const entry: Inflight = { cid: block.cid, key: block.key, peers: new Set(), since: performance.now() }
    this.inflight.set(entry.key, entry)
    return entry
  }

  private issue (p: Provider, cid: CID, entry: Inflight): void {
    const channel = p.channel as PeerChannel
    const controller = new AbortController()
    entry.peers.add(p.key)
    p.add(entry.key, this.estimate(cid), controller)
    channel.want(cid, { signal: controller.signal, timeoutMs: this.opts.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS }).then(
      (result) => { this.onResult(p, entry, result) },
      (err) => { this.onRequestError(p, entry, err) }
    ).catch((err) => { this.host.fail(err) })
  }

  private requeueIfOrphaned (entry: Inflight): void {
    if (entry.peers.size === 0 && this.inflight.get(entry.key) === entry) {
      this.inflight.delete(entry.key)
      this.queue.pushFront({ cid: entry.cid, key: entry.key })
    }
  }

  private estimate (cid: CID): number {
    const s = this.sizeByCodec.get(cid.code)
    return s === undefined ? INITIAL_BLOCK_SIZE_ESTIMATE : s.total / s.count
  }

  private onResult (p: Provider, entry: Inflight, result: WantResult): void {
    if (p.remove(entry.key) === undefined) {
      if (result.type === 'block') {
        // cancelled meanwhile: nobody else saw these bytes
        this.wasted += result.bytes.byteLength
        blockBufferPool.release(result.bytes)
      }
      return
    }
    entry.peers.delete(p.key)
    const now = performance.now()
    switch (result.type) {
      case 'block': {
        const bytes = result.bytes
        if (this.inflight.get(entry.key) !== entry) {
          // the same block already came from another provider in endgame
          p.meter.record(bytes.byteLength, now)
          this.lastDelivery.set(p.key, now)
          this.duplicates++
          this.wasted += bytes.byteLength
          blockBufferPool.release(bytes)
          break
        }
        if (this.opts.verifyBeforePut !== false || entry.cid.code !== raw.code) {
          try {
            verifyBlock(entry.cid, bytes)
          } catch (err) {
            blockBufferPool.release(bytes)
            this.host.drop(p, 'bad-block', err as Error)
            this.requeueIfOrphaned(entry)
            break
          }
        }
        this.inflight.delete(entry.key)
        this.lastDelivery.set(p.key, now)
        for (const other of entry.peers) {
          // endgame duplicates still outstanding: cancel them so their slots go to real work
          this.host.provider(other)?.remove(entry.key)?.controller.abort()
        }
        entry.peers.clear()
        p.delivered(bytes.byteLength)
        this.host.received(entry.cid, bytes, p)
        break
      }
      case 'dont-have':
        p.lacks.add(entry.key)
        if (++p.consecutiveDontHave >= MAX_CONSECUTIVE_DONT_HAVE) {
          // a peer still downloading the same content lacks most blocks now and has them
          // later: rest it and ask again, and drop it only when it stays empty-handed; one
          // that delivered before holds the content and refers us to the crowd: never drop it
          if (++p.rests > MAX_DONT_HAVE_RESTS && p.blocks === 0) {
            this.host.drop(p, 'dont-have')
          } else {
            p.consecutiveDontHave = 0
            p.busy(DONT_HAVE_REST_MS, now)
          }
        }
        this.requeueIfOrphaned(entry)
        break
      case 'refer':
        // it holds the block and will send it once the crowd had its chance: never dropped
        p.lacks.add(entry.key)
        this.requeueIfOrphaned(entry)
        break
      case 'busy':
        p.busy(result.retryAfterMs, now)
        this.requeueIfOrphaned(entry)
        break
    }
    this.host.wakeup.wake()
  }

  private onRequestError (p: Provider, entry: Inflight, err: unknown): void {
    if (p.remove(entry.key) === undefined) {
      // we cancelled it (endgame win elsewhere, or the provider was dropped)
      return
    }
    entry.peers.delete(p.key)
    if (err instanceof RequestTimeoutError) {
      if (++p.timeouts >= (this.opts.maxTimeoutsPerPeer ?? DEFAULT_MAX_TIMEOUTS_PER_PEER)) {
        this.host.drop(p, 'timeout', err)
      }
    } else if ((err as KizunaError)?.code === 'ERR_REMOTE_ERROR') {
      // the server could not read the block: treat like DONT_HAVE for this block
      p.lacks.add(entry.key)
    } else if (p.channel !== undefined) {
      // the channel failed under this request; its close reason says whose fault that was
      this.host.channelFailed(p, p.channel)
    }
    this.requeueIfOrphaned(entry)
    this.host.wakeup.wake()
  }

  private armBackoffTimer (ready: Provider[], now: number): void {
    if (this.queue.size === 0) {
      return
    }
    let at = Number.POSITIVE_INFINITY
    for (const p of ready) {
      if (p.busyUntil > now) {
        at = Math.min(at, p.busyUntil)
      } else if (p.hasRoom(0, now) && !this.hasWorkFor(p)) {
        // it said it lacks (or referred us away from) every queued block: ask again once that is
        // forgotten. Nothing else may wake us: a crowd's last blocks, all referred, stalled a get
        // until its timeout
        at = Math.min(at, now + LACK_MEMORY_MS)
      }
    }
    this.backoffTimer.armAt(at, now)
  }
}

/** One timer that fires at the earliest time it was armed for (a later arming never delays it) */
class EarliestTimer {
  private timer?: ReturnType<typeof setTimeout>
  private at = Number.POSITIVE_INFINITY

  constructor (private readonly fire: () => void) {}

  armAt (at: number, now: number): void {
    if (at === Number.POSITIVE_INFINITY || (this.timer !== undefined && this.at <= at)) return
    clearTimeout(this.timer)
    this.at = at
    this.timer = setTimeout(() => {
      this.timer = undefined
      this.at = Number.POSITIVE_INFINITY
      this.fire()
    }, Math.max(1, at - now))
  }

  clear (): void {
    clearTimeout(this.timer)
    this.timer = undefined
    this.at = Number.POSITIVE_INFINITY
  }
}
