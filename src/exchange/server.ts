import { TypedEventEmitter, setMaxListeners } from '@libp2p/interface'
import { EXCHANGE_PROTOCOL, MAX_BLOCK_SIZE, MAX_FRAME_LENGTH, MAX_REQUEST_FRAME_LENGTH, type HaveState, type Message } from './codec.js'
import { ChannelClosedError, ProtocolViolationError, RequestTimeoutError } from './errors.js'
import { FramedStream } from './framed-stream.js'
import { CrowdSpreader, type CrowdSpreaderInit } from './crowd-spreader.js'
import { blockKey } from '../content/block-key.js'
import { Slots } from '../util/slots.js'
import { blockBufferPool } from '../util/block-buffer-pool.js'
import { noteTransferBytes } from '../util/gc-pacer.js'
import type { BlockStore } from '../content/block-store.js'
import type { AbortOptions, Connection, PeerId, Stream, StreamHandler, StreamHandlerOptions } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'

/** Requests one peer may have in progress at once (all its streams together); more get BUSY */
export const DEFAULT_MAX_REQUESTS_PER_PEER = 128
/** Block bytes loaded for one peer and not yet taken by the transport; more get BUSY */
export const DEFAULT_MAX_BYTES_IN_FLIGHT_PER_PEER = 32 * 1024 * 1024
/** Unsent reply bytes beyond which the server stops reading a stream's requests */
const MAX_QUEUED_REPLY_BYTES = MAX_FRAME_LENGTH + 64 * 1024
/** Served blocks' pooled buffers waiting per stream for the transport to encrypt them */
const MAX_UNSENT_POOLED = 8
/** Suggested back-off sent with BUSY */
export const DEFAULT_BUSY_RETRY_AFTER_MS = 100
/**
 * Replies waiting to be written with no progress (no drain, nothing written) for this long mean
 * the peer stopped reading: its stream is aborted. Progress, not age, so slow links survive.
 */
export const DEFAULT_SERVE_TIMEOUT_MS = 60_000
/** Clients keep one stream per peer; a few more allow reconnects and parallel sessions */
export const DEFAULT_MAX_INBOUND_STREAMS = 16
/**
 * Requested blocks read ahead of the one being sent, per stream. The transport sends one block
 * at a time, so a few keep it busy; the rest of a client's window waits as WANTs (a few bytes
 * each), not as blocks in memory, so clients may keep deep windows at no memory cost here.
 */
export const DEFAULT_READ_AHEAD_BLOCKS = 3

export interface HaveAnswer {
  has: HaveState
  /** Number of the DAG's blocks held, when known */
  count?: number
}

/** What the server needs from libp2p; a Libp2p node fits */
export interface ProtocolRegistrar {
  handle(protocol: string, handler: StreamHandler, options?: StreamHandlerOptions): Promise<void>
  unhandle(protocol: string, options?: AbortOptions): Promise<void>
}

export interface ExchangeServerComponents {
  registrar: ProtocolRegistrar
  blockStore: BlockStore
  /** Answers HAVE_QUERY precisely; without it the server only knows whether it has the root */
  hasContent?: (root: CID, options: AbortOptions & { peer: PeerId }) => Promise<HaveState | HaveAnswer>
}

export interface ExchangeServerInit {
  protocol?: string
  maxRequestsPerPeer?: number
  maxBytesInFlightPerPeer?: number
  busyRetryAfterMs?: number
  serveTimeoutMs?: number
  maxInboundStreams?: number
  /** Blocks read ahead of the transport per stream (DEFAULT_READ_AHEAD_BLOCKS) */
  readAheadBlocks?: number
  /** Crowd spreading limits (see crowd-spreader.ts) */
  spreading?: CrowdSpreaderInit
}

export interface BlockServedEvent {
  peer: PeerId
  cid: CID
  bytes: number
}

export interface RequestRefusedEvent {
  peer: PeerId
  cid: CID
  reason: 'busy' | 'dont-have'
}

export interface ExchangeServerEvents {
  'block:served': CustomEvent<BlockServedEvent>
  'request:refused': CustomEvent<RequestRefusedEvent>
}

export interface PeerServeStats {
  bytesServed: number
  blocksServed: number
  busyReplies: number
  dontHaveReplies: number
  requestsInFlight: number
  bytesInFlight: number
}

export interface ExchangeServerStats {
  bytesServed: number
  blocksServed: number
  busyReplies: number
  dontHaveReplies: number
  /** DONT_HAVE answers sent to spread a crowd over its own members (see crowd-spreader.ts) */
  spreadReplies: number
  /** Blocks sent in a crowd only because the asker could not find them elsewhere in time */
  spreadSentAfterWait: number
  /** HAVE queries answered */
  haveQueries: number
  /** Keyed by peer id string */
  peers: Map<string, PeerServeStats>
}

function emptyPeerStats (): PeerServeStats {
  return { bytesServed: 0, blocksServed: 0, busyReplies: 0, dontHaveReplies: 0, requestsInFlight: 0, bytesInFlight: 0 }
}

function isNotFound (err: unknown): boolean {
  const e = err as { code?: string, name?: string } | undefined
  // blockstore-core throws name NotFoundError; Kizuna stores use code ERR_BLOCK_NOT_FOUND
  return e?.code === 'ERR_BLOCK_NOT_FOUND' || e?.name === 'NotFoundError' || e?.name === 'ERR_BLOCK_NOT_FOUND'
}

interface ServedStream {
  framed: FramedStream
  peer: PeerId
  stats: PeerServeStats
  /** Request ids in progress on this stream, with their cancel flag */
  active: Map<number, { cancelled: boolean }>
  controller: AbortController
  remoteEnded: boolean
  pausedForDrain: boolean
  /** Replies waiting for the transport, and the last time one got through */
  waitingWrites: number
  lastWriteAt: number
  watchdog?: ReturnType<typeof setInterval>
  /**
   * Plaintext bytes queued below the stream, in the connection's encryption layer, or undefined
   * when that cannot be seen: then served blocks are not read into pooled buffers.
   */
  connectionBacklog: () => number | undefined
  /** Blocks being read or written for this stream at once (readAheadBlocks) */
  readSlots: Slots
  /** Pooled block buffers written to the stream but maybe not yet encrypted (see releaseWhenSent) */
  unsent: Uint8Array[]
  unsentTimer?: ReturnType<typeof setTimeout>
}

/**
 * Bytes waiting in the write buffer of the stream a connection's muxer writes to (the Noise
 * layer), read through libp2p internals (Connection.muxer.maConn). A frame's bytes stay referenced
 * there, unencrypted, while TCP is backed up; once that buffer and the stream's own are empty,
 * every byte written so far has been encrypted into new buffers.
 */
function connectionBacklog (connection: Connection): () => number | undefined {
  const maConn = (connection as unknown as { muxer?: { maConn?: { writeBufferLength?: unknown } } }).muxer?.maConn
  if (typeof maConn?.writeBufferLength !== 'number') {
    return () => undefined
  }
  return () => {
    const n = maConn.writeBufferLength
    return typeof n === 'number' ? n : undefined
  }
}

/**
 * Serves blocks from the local BlockStore over `/kizuna/exchange/1.0.0`. Requests are answered
 * concurrently and out of order; per-peer limits turn excess into BUSY instead of queueing, and
 * a stream whose frames are malformed is aborted without affecting any other stream.
 */
export class ExchangeServer extends TypedEventEmitter<ExchangeServerEvents> {
  readonly protocol: string
  private readonly components: ExchangeServerComponents
  private readonly maxRequestsPerPeer: number
  private readonly maxBytesInFlightPerPeer: number
  private readonly busyRetryAfterMs: number
  private readonly serveTimeoutMs: number
  private readonly maxInboundStreams: number
  private readonly readAheadBlocks: number
  private readonly streams = new Set<ServedStream>()
  private readonly peerStats = new Map<string, PeerServeStats>()
  private readonly totals = { bytesServed: 0, blocksServed: 0, busyReplies: 0, dontHaveReplies: 0, spreadReplies: 0, haveQueries: 0 }
  private readonly spreader: CrowdSpreader
  private started = false

  constructor (components: ExchangeServerComponents, init: ExchangeServerInit = {}) {
    super()
    this.components = components
    this.protocol = init.protocol ?? EXCHANGE_PROTOCOL
    this.maxRequestsPerPeer = init.maxRequestsPerPeer ?? DEFAULT_MAX_REQUESTS_PER_PEER
    this.maxBytesInFlightPerPeer = init.maxBytesInFlightPerPeer ?? DEFAULT_MAX_BYTES_IN_FLIGHT_PER_PEER
    this.busyRetryAfterMs = init.busyRetryAfterMs ?? DEFAULT_BUSY_RETRY_AFTER_MS
    this.serveTimeoutMs = init.serveTimeoutMs ?? DEFAULT_SERVE_TIMEOUT_MS
    this.maxInboundStreams = init.maxInboundStreams ?? DEFAULT_MAX_INBOUND_STREAMS
    this.readAheadBlocks = init.readAheadBlocks ?? DEFAULT_READ_AHEAD_BLOCKS
    this.spreader = new CrowdSpreader(init.spreading)
    this.handleStream = this.handleStream.bind(this)
  }

  readonly [Symbol.toStringTag] = 'kizuna/exchange-server'

  isStarted (): boolean {
    return this.started
  }

  async start (): Promise<void> {
    if (this.started) {
      return
    }
    this.started = true
    await this.components.registrar.handle(this.protocol, this.handleStream, {
      maxInboundStreams: this.maxInboundStreams,
      runOnLimitedConnection: false
    })
  }

  async stop (): Promise<void> {
    if (!this.started) {
      return
    }
    this.started = false
    await this.components.registrar.unhandle(this.protocol)
    for (const s of [...this.streams]) {
      s.framed.abort(new ChannelClosedError('server stopping'))
    }
  }

  /** `peer` fetches a replica at our request for `forMs`: crowd spreading does not refer it on */
  invite (peer: PeerId, forMs: number): void {
    this.spreader.invite(peer.toString(), Date.now() + forMs)
  }

  uninvite (peer: PeerId): void {
    this.spreader.uninvite(peer.toString())
  }

  stats (): ExchangeServerStats {
    const peers = new Map<string, PeerServeStats>()
    for (const [k, v] of this.peerStats) {
      peers.set(k, { ...v })
    }
    return { ...this.totals, spreadSentAfterWait: this.spreader.sentAfterWait, peers }
  }

  private statsFor (peer: PeerId): PeerServeStats {
    const key = peer.toString()
    let s = this.peerStats.get(key)
    if (s === undefined) {
      s = emptyPeerStats()
      this.peerStats.set(key, s)
    }
    return s
  }

  private handleStream (stream: Stream, connection: Connection): void {
    const served: ServedStream = {
      peer: connection.remotePeer,
      stats: this.statsFor(connection.remotePeer),
      active: new Map(),
      controller: new AbortController(),
      remoteEnded: false,
      pausedForDrain: false,
      waitingWrites: 0,
      lastWriteAt: 0,
      connectionBacklog: connectionBacklog(connection),
      readSlots: new Slots(this.readAheadBlocks),
      unsent: [],
      framed: undefined as unknown as FramedStream
    }
    // every request in progress on the stream listens on this signal
    setMaxListeners(Infinity, served.controller.signal)
    served.framed = new FramedStream(stream, {
      maxFrameLength: MAX_REQUEST_FRAME_LENGTH,
      onMessage: (msg) => { this.onRequest(served, msg) },
      onRemoteEnd: () => {
        served.remoteEnded = true
        this.maybeFinish(served)
      },
      onClose: () => {
        served.controller.abort()
        clearInterval(served.watchdog)
        // whatever the transport may still hold is left to the garbage collector
        clearTimeout(served.unsentTimer)
        served.unsent.length = 0
        this.streams.delete(served)
      }
    })
    if (!served.framed.closed) {
      this.streams.add(served)
    }
  }

  private onRequest (s: ServedStream, msg: Message): void {
    switch (msg.type) {
      case 'want':
      case 'have-query': {
        if (s.active.has(msg.id)) {
          throw new ProtocolViolationError(`request id ${msg.id} reused while in progress`)
        }
        if (s.stats.requestsInFlight >= this.maxRequestsPerPeer) {
          this.refuseBusy(s, msg.id, msg.cid)
          break
        }
        const state = { cancelled: false }
        s.active.set(msg.id, state)
        s.stats.requestsInFlight++
        const work = msg.type === 'want' ? this.serveWant(s, msg.id, msg.cid, state) : this.serveHave(s, msg.id, msg.cid)
        void work.finally(() => {
          s.stats.requestsInFlight--
          s.active.delete(msg.id)
          this.maybeFinish(s)
        })
        break
      }
      case 'cancel': {
        const state = s.active.get(msg.id)
        if (state !== undefined) {
          state.cancelled = true
        }
        break
      }
      default:
        throw new ProtocolViolationError(`a client may not send ${msg.type}`)
    }
    // Stop reading while replies pile up unsent (a peer asking without reading), so BUSY and
    // DONT_HAVE cannot grow the send buffer without bound. Blocks wait for drain before being
    // queued, so in normal streaming the buffer holds about one block and reading continues.
    if (!s.pausedForDrain && s.framed.congested && s.framed.stream.writeBufferLength > MAX_QUEUED_REPLY_BYTES && !s.framed.closed) {
      s.pausedForDrain = true
      s.framed.pause()
      s.framed.drained().then(() => {
        s.pausedForDrain = false
        if (!s.framed.closed) {
          s.framed.resume()
        }
      }, () => {})
    }
  }

  private refuseBusy (s: ServedStream, id: number, cid: CID): void {
    s.framed.sendNow({ type: 'busy', id, retryAfterMs: this.busyRetryAfterMs })
    s.stats.busyReplies++
    this.totals.busyReplies++
    this.safeDispatchEvent<RequestRefusedEvent>('request:refused', { detail: { peer: s.peer, cid, reason: 'busy' } })
  }

  private async serveWant (s: ServedStream, id: number, cid: CID, state: { cancelled: boolean }): Promise<void> {
    const signal = s.controller.signal
    let reserved = 0
    const key = blockKey(cid)
    const peerKey = s.peer.toString()
    let sent = false
    if (!this.spreader.admit(peerKey, key, Date.now())) {
      s.framed.sendNow({ type: 'dont-have', id })
      s.stats.dontHaveReplies++
      this.totals.dontHaveReplies++
      this.totals.spreadReplies++
      return
    }
    // Blocks go out one after another on this stream anyway: reading every requested block at
    // once would only hold the client's whole request window in our memory
    let releaseSlot: (() => void) | undefined
    try {
      releaseSlot = await s.readSlots.take(signal)
    } catch {
      this.spreader.release(key)
      return
    }
    // a pooled buffer to read into, when the store can and we can tell when the transport is done with it
    const store = this.components.blockStore
    let pooled = store.getInto !== undefined && s.connectionBacklog() !== undefined
      ? blockBufferPool.take(blockBufferPool.bufferSize)
      : undefined
    try {
      if (state.cancelled) {
        return
      }
      let bytes: Uint8Array
      try {
        if (pooled !== undefined && store.getInto !== undefined) {
          // the receiver hashes every block anyway: no second sha256 of every byte served
          bytes = await store.getInto(cid, pooled, { signal, verify: false })
          if (bytes.buffer !== pooled.buffer) {
            // larger than a pooled buffer: the store read it into a fresh one
            blockBufferPool.release(pooled)
            pooled = undefined
          }
        } else {
          bytes = await store.get(cid, { signal })
        }
      } catch (err) {
        if (signal.aborted) {
          return
        }
        if (isNotFound(err)) {
          s.framed.sendNow({ type: 'dont-have', id })
          s.stats.dontHaveReplies++
          this.totals.dontHaveReplies++
          this.safeDispatchEvent<RequestRefusedEvent>('request:refused', { detail: { peer: s.peer, cid, reason: 'dont-have' } })
        } else {
          s.framed.sendNow({ type: 'error', id, message: 'could not read block' })
        }
        return
      }
      if (state.cancelled || s.framed.closed) {
        return
      }
      if (bytes.byteLength > MAX_BLOCK_SIZE) {
        s.framed.sendNow({ type: 'error', id, message: `block larger than ${MAX_BLOCK_SIZE} bytes` })
        return
      }
      // the first request always proceeds, so one oversized block cannot starve a peer
      if (s.stats.bytesInFlight > 0 && s.stats.bytesInFlight + bytes.byteLength > this.maxBytesInFlightPerPeer) {
        this.refuseBusy(s, id, cid)
        return
      }
      reserved = bytes.byteLength
      s.stats.bytesInFlight += reserved
      const writing = this.watchedWrite(s, { type: 'block', id, bytes })
      // from here the transport holds the bytes: only releaseWhenSent may give them back
      const lent = pooled
      pooled = undefined
      await writing
      if (lent !== undefined) {
        this.releaseWhenSent(s, lent)
      }
      sent = true
      noteTransferBytes(bytes.byteLength)
      this.spreader.sent(key, Date.now())
      s.stats.bytesServed += bytes.byteLength
      s.stats.blocksServed++
      this.totals.bytesServed += bytes.byteLength
      this.totals.blocksServed++
      this.safeDispatchEvent<BlockServedEvent>('block:served', { detail: { peer: s.peer, cid, bytes: bytes.byteLength } })
    } catch {
      // the stream closed or was aborted under us; its own close handling reports why
    } finally {
      // still set only when the bytes never reached the stream
      blockBufferPool.release(pooled)
      s.stats.bytesInFlight -= reserved
      releaseSlot()
      if (!sent) this.spreader.release(key)
    }
  }

  /**
   * Returns a served block's pooled buffer once no layer of the transport can read it any more:
   * the write having resolved is not enough (the frame may sit, unencrypted, in the stream's or
   * the Noise layer's write buffer while TCP is backed up). When both buffers are empty, every
   * byte written so far has been encrypted into other buffers. Until then the buffer waits and
   * the check is repeated; a stream that closes first leaves it to the garbage collector.
   */
  private releaseWhenSent (s: ServedStream, buffer: Uint8Array): void {
    s.unsent.push(buffer)
    if (s.unsent.length > MAX_UNSENT_POOLED) {
      // a transport that never empties: forget the oldest (the garbage collector takes it once
      // sent) rather than hold more memory than unpooled buffers would
      s.unsent.shift()
    }
    this.flushUnsent(s)
  }

  private flushUnsent (s: ServedStream): void {
    if (s.framed.closed) {
      s.unsent.length = 0
      return
    }
    if (s.unsent.length === 0) {
      return
    }
    if (s.framed.stream.writeBufferLength === 0 && s.connectionBacklog() === 0) {
      for (const b of s.unsent.splice(0)) {
        blockBufferPool.release(b)
      }
      return
    }
    if (s.unsentTimer === undefined) {
      s.unsentTimer = setTimeout(() => {
        s.unsentTimer = undefined
        this.flushUnsent(s)
      }, 1)
    }
  }

  private async watchedWrite (s: ServedStream, msg: Message): Promise<void> {
    if (s.waitingWrites++ === 0) {
      s.lastWriteAt = performance.now()
      const every = Math.max(50, Math.min(1000, this.serveTimeoutMs / 4))
      s.watchdog = setInterval(() => {
        const progress = Math.max(s.lastWriteAt, s.framed.lastDrainAt)
        if (performance.now() - progress >= this.serveTimeoutMs) {
          s.framed.abort(new RequestTimeoutError(`writing to ${s.peer.toString()}`, this.serveTimeoutMs))
        }
      }, every)
      s.watchdog.unref?.()
    }
    try {
      // no signal: the stream closing already rejects a pending drain wait
      await s.framed.write(msg)
      s.lastWriteAt = performance.now()
    } finally {
      if (--s.waitingWrites === 0) {
        clearInterval(s.watchdog)
        s.watchdog = undefined
      }
    }
  }

  private async serveHave (s: ServedStream, id: number, root: CID): Promise<void> {
    const signal = s.controller.signal
    this.totals.haveQueries++
    try {
      let answer: HaveAnswer
      if (this.components.hasContent !== undefined) {
        const a = await this.components.hasContent(root, { signal, peer: s.peer })
        answer = typeof a === 'string' ? { has: a } : a
      } else {
        const has = await this.components.blockStore.has(root, { signal })
        // a raw root has no children, so having it means having everything
        answer = { has: has ? (root.code === RAW_CODEC ? 'full' : 'partial') : 'none' }
      }
      if (!s.framed.closed) {
        await this.watchedWrite(s, { type: 'have-reply', id, has: answer.has, count: answer.count })
      }
    } catch {
      if (!s.framed.closed && !signal.aborted) {
        try {
          s.framed.sendNow({ type: 'error', id, message: 'could not answer HAVE_QUERY' })
        } catch {}
      }
    }
  }

  private maybeFinish (s: ServedStream): void {
    if (s.remoteEnded && s.active.size === 0 && !s.framed.closed) {
      s.framed.closeWrite().catch(() => {})
    }
  }
}

const RAW_CODEC = 0x55
