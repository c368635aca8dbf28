import { FrameDecoder, encodeMessage, type Message } from './codec.js'
import { AbortedError, ChannelClosedError, MalformedFrameError } from '../errors.js'
import type { AbortOptions, Stream } from '@libp2p/interface'
import type { Uint8ArrayList } from 'uint8arraylist'

export interface FramedStreamInit {
  maxFrameLength: number
  /** Where multi-chunk BLOCK payloads are assembled (see FrameDecoderOptions.allocBlock) */
  allocBlock?: (size: number) => Uint8Array
  /** Called synchronously for every decoded message; throwing aborts the stream */
  onMessage: (msg: Message) => void
  /** The remote finished sending and every message it sent has been delivered */
  onRemoteEnd?: () => void
  /** Called exactly once when the stream is finished for any reason; `err` unset on a clean close */
  onClose: (err?: Error) => void
}

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
    while (this.stream.writableNeedsDrain) {
      await this.drained(options)
    }
    this.sendNow(msg)
    if (this.stream.writableNeedsDrain) {
      await this.drained(options)
    }
  }

  /** Queues a frame without waiting; for small control frames whose volume is bounded elsewhere */
  sendNow (msg: Message): void {
    if (this.finished || this.stream.writeStatus !== 'writable') {
      throw new ChannelClosedError(`cannot write, stream is ${this.stream.status}/${this.stream.writeStatus}`)
    }
    this.stream.send(encodeMessage(msg))
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
    this.stream.removeEventListener('message', this.onData)
    this.stream.removeEventListener('drain', this.onDrain)
    this.stream.removeEventListener('close', this.onStreamClose)
    this.stream.removeEventListener('end', this.onEnd)
    this.init.onClose(err)
  }
}
