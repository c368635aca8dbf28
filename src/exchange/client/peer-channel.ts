import { TypedEventEmitter, setMaxListeners } from '@libp2p/interface'
import { MAX_FRAME_LENGTH, type HaveState, type Message, type PartialBlock } from '../wire/codec.js'
import { AbortedError, ChannelClosedError, ProtocolViolationError, RemoteError, RequestTimeoutError } from '../errors.js'
import { FramedStream } from '../wire/framed-stream.js'
import { blockBufferPool } from '../../util/block-buffer-pool.js'
import { noteTransferBytes } from '../../util/gc-pacer.js'
import { blockKey } from '../../content/index.js'
import type { ArrivalHandle, ArrivingBlocks } from '../relay/arriving-blocks.js'
import type { AbortOptions, PeerId, Stream } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'

/**
 * Requests one channel keeps outstanding. With 1 MiB blocks the session's byte window (8 MiB per peer)
 * binds first; the count only matters for small blocks such as intermediate DAG nodes.
 */
export const DEFAULT_CHANNEL_MAX_IN_FLIGHT = 64
/**
 * A request times out after this long without progress: counted from when it was sent, or from
 * the last bytes received on the channel if later, so a request queued behind a window of
 * blocks on a slow but working link is not given up on.
 */
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000
/** However busy the channel, a request older than this many timeouts is given up on */
const HARD_TIMEOUT_FACTOR = 4
/** Abandoned request ids remembered so their late replies can be told from unsolicited ones */
const MAX_ABANDONED = 4096

/**
 * A 'block' result's bytes may be a buffer from blockBufferPool (see util/block-buffer-pool.ts):
 * the receiver owns it and may release it to the pool once nothing reads it any more, or simply
 * drop it.
 */
export type WantResult =
  | { type: 'block', bytes: Uint8Array }
  | { type: 'dont-have' }
  /** The peer holds the block but refers us to the crowd fetching it too (ask again later) */
  | { type: 'refer' }
  | { type: 'busy', retryAfterMs: number }

export interface HaveResult {
  has: HaveState
  count?: number
}

export interface PeerChannelInit {
  maxInFlight?: number
  requestTimeoutMs?: number
  maxFrameLength?: number
  /** Told the size of every block that arrived after we cancelled its request (wasted upload) */
  onLateBlock?: (bytes: number) => void
  /** Where blocks still arriving are shown, so the server can relay them on (cut-through) */
  arrivals?: ArrivingBlocks
}

export interface RequestOptions extends AbortOptions {
  /** Overrides the channel's request timeout for this request */
  timeoutMs?: number
}

export interface PeerChannelEvents {
  close: CustomEvent<{ error?: Error }>
}

interface Pending {
  kind: 'want' | 'have'
  cid: CID
  sentAt: number
  timeoutMs: number
  resolve: (value: any) => void
  reject: (err: Error) => void
  cleanup: () => void
}

/**
 * One long-lived stream to one peer carrying many pipelined requests. Replies are matched by
 * request id and may arrive in any order. Inbound memory is bounded by the request window: an
 * honest server sends only what was asked for, the decoder holds at most one partial frame, and
 * replies to unknown ids are a protocol violation that closes the channel.
 */
export class PeerChannel extends TypedEventEmitter<PeerChannelEvents> {
  readonly peer: PeerId
  private readonly framed: FramedStream
  private readonly maxInFlight: number
  private readonly requestTimeoutMs: number
  private readonly pending = new Map<number, Pending>()
  private readonly slotWaiters: Array<{ resolve: () => void, reject: (err: Error) => void }> = []
  /** Requests given up on whose replies may still be on the wire; any other stray reply is a violation */
  private readonly abandoned = new Set<number>()
  private lastId = 0
  private timer?: ReturnType<typeof setInterval>
  private closeError?: Error
  private isClosed = false

  private readonly onLateBlock?: (bytes: number) => void
  private readonly arrivals?: ArrivingBlocks
  /** The block frame arriving now (one at a time per stream), while shown in `arrivals` */
  private arriving?: { id: number, handle: ArrivalHandle }

  constructor (stream: Stream, peer: PeerId, init: PeerChannelInit = {}) {
    super()
    this.onLateBlock = init.onLateBlock
    this.arrivals = init.arrivals
    // every fetch session using this peer listens for 'close'
    setMaxListeners(Infinity, this)
    this.peer = peer
    this.maxInFlight = init.maxInFlight ?? DEFAULT_CHANNEL_MAX_IN_FLIGHT
    this.requestTimeoutMs = init.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS
    this.framed = new FramedStream(stream, {
      maxFrameLength: init.maxFrameLength ?? MAX_FRAME_LENGTH,
      // blocks arrive in many transport chunks and are assembled into recycled buffers
      allocBlock: (size) => blockBufferPool.take(size),
      onMessage: (msg) => { this.onReply(msg) },
      onPartialBlock: this.arrivals === undefined ? undefined : (partial) => { this.onPartialBlock(partial) },
      // the server closes its side only when it will answer nothing more
      onRemoteEnd: () => { this.abort(new ChannelClosedError('remote closed the stream')) },
      onClose: (err) => { this.onClosed(err) }
    })
  }

  get closed (): boolean {
    return this.isClosed
  }

  /** Why the channel closed: a codec/protocol error here means the peer misbehaved */
  get closeReason (): Error | undefined {
    return this.closeError
  }

  get inFlight (): number {
    return this.pending.size
  }

  /** performance.now() of the last bytes the peer sent on this channel (a block under way counts) */
  get lastReadAt (): number {
    return this.framed.lastReadAt
  }

  get capacity (): number {
    return this.maxInFlight
  }

  async want (cid: CID, options: RequestOptions = {}): Promise<WantResult> {
    return this.request<WantResult>('want', cid, options)
  }

  async queryHave (root: CID, options: RequestOptions = {}): Promise<HaveResult> {
    return this.request<HaveResult>('have', root, options)
  }

  /** Half-closes our side; outstanding requests still get their replies */
  async close (options?: AbortOptions): Promise<void> {
    await this.framed.closeWrite(options)
  }

  abort (err: Error): void {
    if (!this.isClosed) {
      this.framed.abort(err)
    }
  }

  private async request<T>(kind: 'want' | 'have', cid: CID, options: RequestOptions): Promise<T> {
    const signal = options.signal
    if (signal?.aborted === true) {
      throw new AbortedError()
    }
    while (this.pending.size >= this.maxInFlight) {
      await this.waitForSlot(signal)
    }
    if (this.isClosed) {
      throw new ChannelClosedError('channel is closed', { cause: this.closeError })
    }
    const id = ++this.lastId
    const timeoutMs = options.timeoutMs ?? this.requestTimeoutMs
    const promise = new Promise<T>((resolve, reject) => {
      const onAbort = (): void => {
        this.settle(id)?.reject(new AbortedError('request aborted', { cause: signal?.reason }))
        this.abandon(id)
      }
      signal?.addEventListener('abort', onAbort)
      this.pending.set(id, {
        kind,
        cid,
        timeoutMs,
        sentAt: performance.now(),
        resolve,
        reject,
        cleanup: () => signal?.removeEventListener('abort', onAbort)
      })
    })
    this.armTimer()
    try {
      this.framed.sendNow(kind === 'want' ? { type: 'want', id, cid } : { type: 'have-query', id, cid })
    } catch (err) {
      this.settle(id)?.reject(err as Error)
    }
    return promise
  }

  private waitForSlot (signal?: AbortSignal): Promise<void> {
    if (this.isClosed) {
      return Promise.reject(new ChannelClosedError('channel is closed', { cause: this.closeError }))
    }
    return new Promise<void>((resolve, reject) => {
      const waiter = {
        resolve: () => { signal?.removeEventListener('abort', onAbort); resolve() },
        reject: (err: Error) => { signal?.removeEventListener('abort', onAbort); reject(err) }
      }
      const onAbort = (): void => {
        const i = this.slotWaiters.indexOf(waiter)
        if (i >= 0) {
          this.slotWaiters.splice(i, 1)
        }
        waiter.reject(new AbortedError('aborted while waiting for a request slot'))
      }
      signal?.addEventListener('abort', onAbort)
      this.slotWaiters.push(waiter)
    })
  }

  /** Removes a pending request and frees its slot; returns it so the caller can settle it */
  private settle (id: number): Pending | undefined {
    const p = this.pending.get(id)
    if (p === undefined) {
      return undefined
    }
    this.pending.delete(id)
    p.cleanup()
    this.slotWaiters.shift()?.resolve()
    if (this.pending.size === 0) {
      this.disarmTimer()
    }
    return p
  }

  /** Tells the server to skip the request and remembers to drop a reply already under way */
  private abandon (id: number): void {
    this.abandoned.add(id)
    if (this.abandoned.size > MAX_ABANDONED) {
      // oldest first: a reply that late will not come, or counts as a violation if it does
      this.abandoned.delete(this.abandoned.values().next().value as number)
    }
    try {
      this.framed.sendNow({ type: 'cancel', id })
    } catch {}
  }

  /** A block frame is under way: shown to the server while it arrives (see relay/arriving-blocks.ts) */
  private onPartialBlock (partial: PartialBlock): void {
    const arriving = this.arriving
    if (arriving !== undefined) {
      if (arriving.id === partial.id) {
        arriving.handle.progress(partial)
        return
      }
      // frames come one after another: a new one means the last ended without reaching onReply
      this.arriving = undefined
      arriving.handle.fail('its frame did not end')
    }
    const p = this.pending.get(partial.id)
    if (p === undefined || p.kind !== 'want' || this.arrivals === undefined) return
    const handle = this.arrivals.begin(blockKey(p.cid), p.cid, partial)
    if (handle !== undefined) this.arriving = { id: partial.id, handle }
  }

  private onReply (msg: Message): void {
    if (msg.type === 'block') {
      noteTransferBytes(msg.bytes.byteLength)
      if (this.arriving?.id === msg.id) {
        // before the session may recycle the bytes; a late block still serves those relaying it
        const { handle } = this.arriving
        this.arriving = undefined
        handle.complete(msg.bytes)
      }
    }
    if (msg.type === 'want' || msg.type === 'have-query' || msg.type === 'cancel') {
      throw new ProtocolViolationError(`a server may not send ${msg.type}`)
    }
    if (msg.id > this.lastId || (msg.id === 0 && msg.type !== 'error')) {
      throw new ProtocolViolationError(`${msg.type} for request ${msg.id} that was never made`)
    }
    if (msg.id === 0) {
      throw new RemoteError(msg.type === 'error' ? msg.message : 'unknown')
    }
    const p = this.pending.get(msg.id)
    if (p === undefined) {
      // a reply to a request we cancelled or gave up on is expected once, and dropped
      if (this.abandoned.delete(msg.id)) {
        if (msg.type === 'block') {
          this.onLateBlock?.(msg.bytes.byteLength)
          blockBufferPool.release(msg.bytes)
        }
        return
      }
      throw new ProtocolViolationError(`unsolicited ${msg.type} for request ${msg.id}`)
    }
    if (msg.type === 'error') {
      this.settle(msg.id)?.reject(new RemoteError(msg.message))
      return
    }
    if (p.kind === 'have') {
      if (msg.type !== 'have-reply') {
        throw new ProtocolViolationError(`${msg.type} in reply to HAVE_QUERY`)
      }
      this.settle(msg.id)?.resolve({ has: msg.has, count: msg.count } satisfies HaveResult)
      return
    }
    switch (msg.type) {
      case 'block':
        this.settle(msg.id)?.resolve({ type: 'block', bytes: msg.bytes } satisfies WantResult)
        return
      case 'dont-have':
        this.settle(msg.id)?.resolve({ type: 'dont-have' } satisfies WantResult)
        return
      case 'refer':
        this.settle(msg.id)?.resolve({ type: 'refer' } satisfies WantResult)
        return
      case 'busy':
        this.settle(msg.id)?.resolve({ type: 'busy', retryAfterMs: msg.retryAfterMs } satisfies WantResult)
        return
      default:
        throw new ProtocolViolationError(`${msg.type} in reply to WANT`)
    }
  }

  private armTimer (): void {
    if (this.timer !== undefined) {
      return
    }
    // one sweeping timer per channel instead of one per request
    const every = Math.max(10, Math.min(1000, Math.floor(this.requestTimeoutMs / 4)))
    this.timer = setInterval(() => { this.sweep() }, every)
    this.timer.unref?.()
  }

  private disarmTimer (): void {
    if (this.timer !== undefined) {
      clearInterval(this.timer)
      this.timer = undefined
    }
  }

  private sweep (): void {
    const now = performance.now()
    const lastRead = this.framed.lastReadAt
    for (const [id, p] of this.pending) {
      const idle = now - Math.max(p.sentAt, lastRead)
      if (idle >= p.timeoutMs || now - p.sentAt >= p.timeoutMs * HARD_TIMEOUT_FACTOR) {
        this.settle(id)?.reject(new RequestTimeoutError(`${p.kind === 'want' ? 'WANT' : 'HAVE_QUERY'} ${p.cid.toString()} to ${this.peer.toString()}`, p.timeoutMs))
        this.abandon(id)
      }
    }
  }

  private onClosed (err?: Error): void {
    if (this.isClosed) {
      return
    }
    this.isClosed = true
    this.closeError = err
    this.disarmTimer()
    this.arriving?.handle.fail(`channel closed: ${err?.message ?? 'stream closed'}`)
    this.arriving = undefined
    const reason = err?.message ?? 'stream closed'
    for (const id of [...this.pending.keys()]) {
      this.settle(id)?.reject(new ChannelClosedError(reason, { cause: err }))
    }
    for (const w of this.slotWaiters.splice(0)) {
      w.reject(new ChannelClosedError(reason, { cause: err }))
    }
    this.safeDispatchEvent('close', { detail: { error: err } })
  }
}
