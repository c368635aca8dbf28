import { FrameDecoder, encodeBlockHeader, encodeMessage, type Message, type PartialBlock } from './codec.js'
import { AbortedError, ChannelClosedError, MalformedFrameError } from '../errors.js'
import type { AbortOptions, Stream } from '@libp2p/interface'
import type { Uint8ArrayList } from 'uint8arraylist'

export interface FramedStreamInit {
  maxFrameLength: number
  /** Where multi-chunk BLOCK payloads are assembled (see FrameDecoderOptions.allocBlock) */
  allocBlock?: (size: number) => Uint8Array
  /** Called synchronously for every decoded message; throwing aborts the stream */
  onMessage: (msg: Message) => void
  /** Told, after each read, of a BLOCK frame still arriving (its bytes so far may be relayed on) */
  onPartialBlock?: (block: PartialBlock) => void
  /** The remote finished sending and every message it sent has been delivered */
  onRemoteEnd?: () => void
  /** Called exactly once when the stream is finished for any reason; `err` unset on a clean close */
  onClose: (err?: Error) => void
}

/**
 * A block written in pieces (writeBlockInPieces) goes out this much at a time, each piece once
 * the stream took the last (its 'drain'): yamux sends whatever a stream has queued as one frame
 * up to the whole send window, and the receiving side sees none of a frame until all of it is
 * there, so a 1 MiB block written at once reached the peer in one piece after 0.84-2.5 s on a
 * 10 Mbit/s uplink, and the peer could relay none of it before (server/relay-block.ts).
 */
export const BLOCK_PIECE_BYTES = 64 * 1024

/**
 * Message framing over one libp2p stream: decodes inbound frames as they arrive (the 'message'
 * listener runs synchronously, so nothing queues beyond one partial frame) and writes frames
 * with backpressure.
 */
export class FramedStream {
  readonly stream: Stream
  private readonly decoder: FrameDecoder
  private readonly init: FramedStreamInit
  private finished = false
  private nextDrain?: Promise<void>
  /**
   * A frame being written in pieces (beginFrame .. endFrame): frames sent meanwhile wait in
   * `deferred`, and writers wait for `ended`, so no frame lands inside another
   */
  private piecewise?: { deferred: Array<Uint8Array | Uint8ArrayList>, ended: Promise<void>, end: () => void }
  /** performance.now() of the last inbound bytes / the last time the transport took our bytes */
  lastReadAt = performance.now()
  lastDrainAt = performance.now()

  constructor (stream: Stream, init: FramedStreamInit) {
    this.stream = stream
    this.init = init
    this.decoder = new FrameDecoder({ maxFrameLength: init.maxFrameLength, allocBlock: init.allocBlock })
    this.onData = this.onData.bind(this)
    this.onStreamClose = this.onStreamClose.bind(this)
    this.onEnd = this.onEnd.bind(this)
    this.onDrain = this.onDrain.bind(this)
    stream.addEventListener('message', this.onData)
    stream.addEventListener('drain', this.onDrain)
    stream.addEventListener('close', this.onStreamClose)
    stream.addEventListener('end', this.onEnd)
    if (stream.status !== 'open') {
      queueMicrotask(() => { this.finish(new ChannelClosedError(`stream is ${stream.status}`)) })
    } else if (stream.readableEnded) {
      queueMicrotask(this.onEnd)
    }
  }

  get closed (): boolean {
    return this.finished
  }

  /** True while the transport wants us to stop writing */
  get congested (): boolean {
    return this.stream.writableNeedsDrain
  }

  /**
   * Sends one frame, first waiting for the stream to drain if it is congested, so concurrent
   * writers add at most one frame each to the send buffer.
   */
  async write (msg: Message, options?: AbortOptions): Promise<void> {
    while (this.stream.writableNeedsDrain || this.piecewise !== undefined) {
      if (this.piecewise !== undefined) await this.piecewise.ended
      else await this.drained(options)
    }
    this.sendNow(msg)
    if (this.stream.writableNeedsDrain) {
      await this.drained(options)
    }
  }

  /**
   * Queues a frame without waiting; for small control frames whose volume is bounded elsewhere.
   * While a frame is written in pieces it goes out right after that frame.
   */
  sendNow (msg: Message): void {
    this.checkWritable()
    const frame = encodeMessage(msg)
    if (this.piecewise !== undefined) {
      this.piecewise.deferred.push(frame)
      return
    }
    this.stream.send(frame)
  }

  /**
   * Starts a frame whose bytes follow in pieces (writePiece, endFrame): a block relayed while it
   * arrives. Waits for another piecewise frame to end first. The caller must end it, or abort the
   * stream: a frame left half-written leaves the stream out of sync.
   */
  async beginFrame (header: Uint8Array, options?: AbortOptions): Promise<void> {
    while (this.piecewise !== undefined) {
      await this.piecewise.ended
    }
    this.checkWritable()
    let end = (): void => {}
    const ended = new Promise<void>(resolve => { end = resolve })
    this.piecewise = { deferred: [], ended, end }
    await this.writePiece(header, options)
  }

  /**
   * Writes a BLOCK frame in pieces (BLOCK_PIECE_BYTES unless told), each once the stream took the last, so
   * the receiver sees the block arrive piece by piece (it may relay it on as it comes)
   */
  async writeBlockInPieces (id: number, bytes: Uint8Array, options?: AbortOptions, pieceBytes = BLOCK_PIECE_BYTES): Promise<void> {
    await this.beginFrame(encodeBlockHeader(id, bytes.byteLength), options)
    try {
      for (let at = 0; at < bytes.byteLength; at += pieceBytes) {
        await this.writePiece(bytes.subarray(at, Math.min(bytes.byteLength, at + pieceBytes)), options)
      }
      this.endFrame()
    } catch (err) {
      // a frame begun and not ended leaves the stream out of sync
      if (!this.finished) this.abort(err instanceof Error ? err : new ChannelClosedError(String(err)))
      throw err
    }
  }

  /** Writes the next bytes of the frame begun, waiting for drain like write() */
  async writePiece (bytes: Uint8Array, options?: AbortOptions): Promise<void> {
    this.checkWritable()
    this.stream.send(bytes)
    if (this.stream.writableNeedsDrain) {
      await this.drained(options)
    }
  }

  /** Writes the frame's last bytes, then the frames deferred meanwhile */
  endFrame (tail?: Uint8Array): void {
    this.checkWritable()
    if (tail !== undefined && tail.byteLength > 0) this.stream.send(tail)
    this.releasePiecewise(true)
  }

  private releasePiecewise (flush: boolean): void {
    const p = this.piecewise
    if (p === undefined) return
    this.piecewise = undefined
    if (flush) {
      for (const frame of p.deferred) this.stream.send(frame)
    }
    p.end()
  }

  private checkWritable (): void {
    if (this.finished || this.stream.writeStatus !== 'writable') {
      throw new ChannelClosedError(`cannot write, stream is ${this.stream.status}/${this.stream.writeStatus}`)
    }
  }

  /**
   * Resolves on the next 'drain'. Stream.onDrain() is not used: in @libp2p/utils 7 its promise is
   * never reset after the first drain, so later calls resolve at once and give no backpressure.
   * All writers waiting for the same drain share one pair of listeners.
   */
  drained (options?: AbortOptions): Promise<void> {
    if (!this.stream.writableNeedsDrain) {
      return Promise.resolve()
    }
    if (this.nextDrain === undefined) {
      this.nextDrain = new Promise<void>((resolve, reject) => {
        const cleanup = (): void => {
          this.stream.removeEventListener('drain', onDrain)
          this.stream.removeEventListener('close', onClose)
          this.nextDrain = undefined
        }
        const onDrain = (): void => { cleanup(); resolve() }
        const onClose = (): void => { cleanup(); reject(new ChannelClosedError('stream closed while waiting to write')) }
        this.stream.addEventListener('drain', onDrain)
        this.stream.addEventListener('close', onClose)
      })
      // a drain nobody waits for any more must not surface as an unhandled rejection
      this.nextDrain.catch(() => {})
    }
    const signal = options?.signal
    if (signal === undefined) {
      return this.nextDrain
    }
    if (signal.aborted) {
      return Promise.reject(new AbortedError('aborted while waiting to write', { cause: signal.reason }))
    }
    const drain = this.nextDrain
    return new Promise<void>((resolve, reject) => {
      const onAbort = (): void => { reject(new AbortedError('aborted while waiting to write', { cause: signal.reason })) }
      signal.addEventListener('abort', onAbort, { once: true })
      drain.then(resolve, reject).finally(() => { signal.removeEventListener('abort', onAbort) })
    })
  }

  pause (): void {
    if (this.stream.readStatus === 'readable') {
      this.stream.pause()
    }
  }

  resume (): void {
    if (this.stream.readStatus === 'paused') {
      this.stream.resume()
    }
  }

  /** Half-closes our side once queued frames are out; the remote may still be sending */
  async closeWrite (options?: AbortOptions): Promise<void> {
    if (this.stream.writeStatus === 'writable') {
      await this.stream.close(options)
    }
  }

  abort (err: Error): void {
    // finish first: stream.abort() emits 'end' before 'close', which must not read as a clean end
    this.finish(err)
    this.stream.abort(err)
  }

  private onDrain (): void {
    this.lastDrainAt = performance.now()
  }

  private onData (evt: { data: Uint8Array | Uint8ArrayList }): void {
    if (this.finished) {
      return
    }
    this.lastReadAt = performance.now()
    try {
      this.decoder.push(evt.data)
      for (let msg = this.decoder.next(); msg !== undefined; msg = this.decoder.next()) {
        this.init.onMessage(msg)
        if (this.finished) {
          return
        }
      }
      if (this.init.onPartialBlock !== undefined) {
        const partial = this.decoder.partialBlock()
        if (partial !== undefined) this.init.onPartialBlock(partial)
      }
    } catch (err) {
      const e = err instanceof Error ? err : new MalformedFrameError(String(err))
      this.abort(e)
    }
  }

  private onEnd (): void {
    if (this.finished || this.stream.status === 'aborted' || this.stream.status === 'reset') {
      // a reset also ends the readable side; the 'close' that follows carries the error
      return
    }
    if (this.decoder.bufferedLength > 0) {
      this.abort(new MalformedFrameError(`stream ended inside a frame (${this.decoder.bufferedLength} bytes buffered)`))
      return
    }
    this.init.onRemoteEnd?.()
  }

  private onStreamClose (evt: Event & { error?: Error }): void {
    this.finish(evt.error)
  }

  private finish (err?: Error): void {
    if (this.finished) {
      return
    }
    this.finished = true
    // writers waiting on a piecewise frame wake up and find the stream closed
    this.releasePiecewise(false)
    this.stream.removeEventListener('message', this.onData)
    this.stream.removeEventListener('drain', this.onDrain)
    this.stream.removeEventListener('close', this.onStreamClose)
    this.stream.removeEventListener('end', this.onEnd)
    this.init.onClose(err)
  }
}
