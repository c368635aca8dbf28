import { setMaxListeners } from '@libp2p/interface'
import { MAX_FRAME_LENGTH, MAX_REQUEST_FRAME_LENGTH, type Message } from '../wire/codec.js'
import { RequestTimeoutError } from '../errors.js'
import { FramedStream } from '../wire/framed-stream.js'
import { Slots } from '../../util/slots.js'
import { blockBufferPool } from '../../util/block-buffer-pool.js'
import type { PeerServeStats } from './server-stats.js'
import type { Connection, PeerId, Stream } from '@libp2p/interface'

/** Unsent reply bytes beyond which the server stops reading a stream's requests */
const MAX_QUEUED_REPLY_BYTES = MAX_FRAME_LENGTH + 64 * 1024
/** Served blocks' pooled buffers waiting per stream for the transport to encrypt them */
const MAX_UNSENT_POOLED = 8

/** One inbound exchange stream as the server keeps it */
export interface ServedStream {
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

export interface ServedStreamInit {
  stats: PeerServeStats
  readAheadBlocks: number
  onRequest: (s: ServedStream, msg: Message) => void
  onRemoteEnd: (s: ServedStream) => void
  /** After the stream's own timers and buffers are let go; `err` unset on a clean close */
  onClose: (s: ServedStream, err?: Error) => void
}

/** The stream a connection's muxer writes to (its encryption layer), as far as we read it */
interface EncryptionLayer {
  writeBufferLength?: unknown
  /** @libp2p/tls: the node:tls socket that encrypts */
  socket?: { writableLength?: unknown }
}

/**
 * Plaintext bytes the connection's encryption layer may still read from the buffers handed to it,
 * through libp2p internals (Connection.muxer.maConn); undefined for a layer not known here (served
 * blocks then get fresh buffers). Once this and the stream's own write buffer are empty, every
 * byte written so far has been encrypted into new buffers.
 * - Noise encrypts each chunk as it takes it: only its write buffer (TCP backed up) holds ours.
 * - TLS writes each chunk to a node:tls socket, whose Writable queues a write behind the one in
 *   flight by reference, unencrypted: its writableLength counts those until they are encrypted.
 *   Missing it recycled a buffer still queued there (bad blocks from honest peers in a crowd).
 */
export function plaintextBacklog (connection: Connection): () => number | undefined {
  const layer = (connection as unknown as { muxer?: { maConn?: EncryptionLayer } }).muxer?.maConn
  const buffered = (): number | undefined => {
    const n = layer?.writeBufferLength
    return typeof n === 'number' ? n : undefined
  }
  if (buffered() === undefined) {
    return () => undefined
  }
  if (connection.encryption === NOISE_PROTOCOL) {
    return buffered
  }
  const socket = layer?.socket
  if (connection.encryption === TLS_PROTOCOL && typeof socket?.writableLength === 'number') {
    return () => {
      const own = buffered()
      const queued = socket.writableLength
      return own !== undefined && typeof queued === 'number' ? own + queued : undefined
    }
  }
  return () => undefined
}

const NOISE_PROTOCOL = '/noise'
const TLS_PROTOCOL = '/tls/1.0.0'

export function openServedStream (stream: Stream, connection: Connection, init: ServedStreamInit): ServedStream {
  const served: ServedStream = {
    peer: connection.remotePeer,
    stats: init.stats,
    active: new Map(),
    controller: new AbortController(),
    remoteEnded: false,
    pausedForDrain: false,
    waitingWrites: 0,
    lastWriteAt: 0,
    connectionBacklog: plaintextBacklog(connection),
    readSlots: new Slots(init.readAheadBlocks),
    unsent: [],
    framed: undefined as unknown as FramedStream
  }
  // every request in progress on the stream listens on this signal
  setMaxListeners(Infinity, served.controller.signal)
  served.framed = new FramedStream(stream, {
    maxFrameLength: MAX_REQUEST_FRAME_LENGTH,
    onMessage: (msg) => { init.onRequest(served, msg) },
    onRemoteEnd: () => {
      served.remoteEnded = true
      init.onRemoteEnd(served)
    },
    onClose: (err) => {
      served.controller.abort()
      clearInterval(served.watchdog)
      // whatever the transport may still hold is left to the garbage collector
      clearTimeout(served.unsentTimer)
      served.unsent.length = 0
      init.onClose(served, err)
    }
  })
  return served
}

/**
 * Stops reading while replies pile up unsent (a peer asking without reading), so BUSY and
 * DONT_HAVE cannot grow the send buffer without bound. Blocks wait for drain before being
 * queued, so in normal streaming the buffer holds about one block and reading continues.
 */
export function pauseWhileRepliesPileUp (s: ServedStream): void {
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

/**
 * Writes a reply, aborting the stream when the transport takes none of its bytes for
 * `serveTimeoutMs`: the peer stopped reading. `pieceBytes`: a block goes out in pieces of this
 * size (see FramedStream.writeBlockInPieces).
 */
export async function watchedWrite (s: ServedStream, msg: Message, serveTimeoutMs: number, pieceBytes?: number): Promise<void> {
  if (s.waitingWrites++ === 0) {
    s.lastWriteAt = performance.now()
    const every = Math.max(50, Math.min(1000, serveTimeoutMs / 4))
    s.watchdog = setInterval(() => {
      const progress = Math.max(s.lastWriteAt, s.framed.lastDrainAt)
      if (performance.now() - progress >= serveTimeoutMs) {
        s.framed.abort(new RequestTimeoutError(`writing to ${s.peer.toString()}`, serveTimeoutMs))
      }
    }, every)
    s.watchdog.unref?.()
  }
  try {
    // no signal: the stream closing already rejects a pending drain wait
    if (pieceBytes !== undefined && msg.type === 'block') await s.framed.writeBlockInPieces(msg.id, msg.bytes, undefined, pieceBytes)
    else await s.framed.write(msg)
    s.lastWriteAt = performance.now()
  } finally {
    if (--s.waitingWrites === 0) {
      clearInterval(s.watchdog)
      s.watchdog = undefined
    }
  }
}

/**
 * Returns a served block's pooled buffer once no layer of the transport can read it any more:
 * the write having resolved is not enough (the frame may sit, unencrypted, in the stream's
 * write buffer or in the encryption layer: see plaintextBacklog). When both are empty, every
 * byte written so far has been encrypted into other buffers. Until then the buffer waits and
 * the check is repeated; a stream that closes first leaves it to the garbage collector.
 */
export function releaseWhenSent (s: ServedStream, buffer: Uint8Array): void {
  s.unsent.push(buffer)
  if (s.unsent.length > MAX_UNSENT_POOLED) {
    // a transport that never empties: forget the oldest (the garbage collector takes it once
    // sent) rather than hold more memory than unpooled buffers would
    s.unsent.shift()
  }
  flushUnsent(s)
}

/** Whether every byte written to the stream has left our process (or the stream closed) */
export function allSent (s: ServedStream): boolean {
  return s.framed.closed || (s.framed.stream.writeBufferLength === 0 && (s.connectionBacklog() ?? 0) === 0)
}

function flushUnsent (s: ServedStream): void {
  if (s.framed.closed) {
    s.unsent.length = 0
    return
  }
  if (s.unsent.length === 0) {
    return
  }
  if (allSent(s)) {
    for (const b of s.unsent.splice(0)) {
      blockBufferPool.release(b)
    }
    return
  }
  if (s.unsentTimer === undefined) {
    s.unsentTimer = setTimeout(() => {
      s.unsentTimer = undefined
      flushUnsent(s)
    }, 1)
  }
}
