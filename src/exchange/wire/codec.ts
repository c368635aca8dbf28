import { CID } from 'multiformats/cid'
import * as uint8Varint from 'uint8-varint'
import { Uint8ArrayList } from 'uint8arraylist'
import { MAX_BLOCK_SIZE } from '../../content/index.js'
import { KizunaError } from '../../errors.js'
import { FrameTooLargeError, MalformedFrameError } from '../errors.js'

/**
 * Wire format of the Kizuna block exchange.
 *
 * frame   = varint(length) type:u8 payload      (length counts type + payload)
 * WANT       id cid            BLOCK      id bytes
 * DONT_HAVE  id                HAVE_QUERY id cid
 * HAVE_REPLY id has:u8 [count] BUSY       id retryAfterMs
 * CANCEL     id                ERROR      id utf8-message
 *
 * All integers are minimal unsigned LEB128 varints. Replies carry the id of the request; a BLOCK
 * does not repeat the CID because the requester already knows which CID it asked for under that id.
 */
export const EXCHANGE_PROTOCOL = '/kizuna/exchange/1.0.0'

/** Largest block the exchange carries: the same bound content/blocks/verify.ts enforces on every block */
export { MAX_BLOCK_SIZE }
/** Type byte + request id varint, rounded up generously */
export const MAX_FRAME_OVERHEAD = 32
export const MAX_FRAME_LENGTH = MAX_BLOCK_SIZE + MAX_FRAME_OVERHEAD
/** Frames a server accepts: requests are small, so a huge length claim there is hostile */
export const MAX_REQUEST_FRAME_LENGTH = 4 * 1024
/** Real CIDs are < 100 bytes; a bound keeps CID parsing cheap on hostile input */
export const MAX_CID_LENGTH = 256
export const MAX_ERROR_MESSAGE_LENGTH = 1024

export const MessageType = {
  WANT: 1,
  BLOCK: 2,
  DONT_HAVE: 3,
  HAVE_QUERY: 4,
  HAVE_REPLY: 5,
  BUSY: 6,
  CANCEL: 7,
  ERROR: 8,
  /** "I hold it, but fetch it from the crowd": crowd spreading's answer (see crowd-spreader.ts) */
  REFER: 9
} as const

export type HaveState = 'none' | 'partial' | 'full'
const HAVE_STATES: readonly HaveState[] = ['none', 'partial', 'full']

export interface WantMessage { type: 'want', id: number, cid: CID }
export interface BlockMessage { type: 'block', id: number, bytes: Uint8Array }
export interface DontHaveMessage { type: 'dont-have', id: number }
export interface ReferMessage { type: 'refer', id: number }
export interface HaveQueryMessage { type: 'have-query', id: number, cid: CID }
export interface HaveReplyMessage { type: 'have-reply', id: number, has: HaveState, count?: number }
export interface BusyMessage { type: 'busy', id: number, retryAfterMs: number }
export interface CancelMessage { type: 'cancel', id: number }
export interface ErrorMessage { type: 'error', id: number, message: string }

export type Message = WantMessage | BlockMessage | DontHaveMessage | HaveQueryMessage |
HaveReplyMessage | BusyMessage | CancelMessage | ErrorMessage | ReferMessage

// ---- varints ----------------------------------------------------------------------------------

export function varintLength (value: number): number {
  return uint8Varint.encodingLength(value)
}

function writeVarint (value: number, out: Uint8Array, offset: number): number {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new KizunaError('ERR_INVALID_PARAMETERS', `varint value out of range: ${value}`)
  }
  uint8Varint.encode(value, out, offset)
  return offset + uint8Varint.encodingLength(value)
}

const NEED_MORE = -1

/**
 * Reads a minimal varint via `at`. Returns NEED_MORE when the input ends inside the varint.
 * Kept instead of uint8-varint's decode, which cannot say "need more" on a partial frame, checks
 * no bound before the last byte and accepts non-minimal encodings.
 * Division/multiplication instead of bit shifts keeps values above 2^31 exact.
 */
function readVarint (at: (i: number) => number | undefined, offset: number, max: number, tooLarge?: (v: number) => KizunaError): { value: number, next: number } | typeof NEED_MORE {
  let value = 0
  let scale = 1
  for (let i = 0; ; i++) {
    const byte = at(offset + i)
    if (byte === undefined) {
      return NEED_MORE
    }
    value += (byte & 0x7f) * scale
    if (value > max) {
      throw tooLarge?.(value) ?? new MalformedFrameError(`varint exceeds ${max}`)
    }
    if ((byte & 0x80) === 0) {
      if (byte === 0 && i > 0) {
        throw new MalformedFrameError('non-minimal varint')
      }
      return { value, next: offset + i + 1 }
    }
    scale *= 0x80
    // any further byte adds at least `scale`, so the value can only end up above the limit
    if (scale > max) {
      throw tooLarge?.(scale) ?? new MalformedFrameError(`varint exceeds ${max}`)
    }
  }
}

// ---- encoding ---------------------------------------------------------------------------------

function typeOf (msg: Message): number {
  switch (msg.type) {
    case 'want': return MessageType.WANT
    case 'block': return MessageType.BLOCK
    case 'dont-have': return MessageType.DONT_HAVE
    case 'refer': return MessageType.REFER
    case 'have-query': return MessageType.HAVE_QUERY
    case 'have-reply': return MessageType.HAVE_REPLY
    case 'busy': return MessageType.BUSY
    case 'cancel': return MessageType.CANCEL
    case 'error': return MessageType.ERROR
  }
}

const textEncoder = new TextEncoder()
const textDecoder = new TextDecoder()

function truncateUtf8 (message: string): Uint8Array {
  const bytes = textEncoder.encode(message)
  if (bytes.byteLength <= MAX_ERROR_MESSAGE_LENGTH) {
    return bytes
  }
  // back up to a character boundary so the receiver never sees a split code point
  let end = MAX_ERROR_MESSAGE_LENGTH
  while (end > 0 && (bytes[end] & 0xc0) === 0x80) {
    end--
  }
  return bytes.subarray(0, end)
}

/**
 * Encodes one frame. A BLOCK comes back as a list of [header, block] so the block bytes are
 * handed to the stream without being copied.
 */
export function encodeMessage (msg: Message): Uint8Array | Uint8ArrayList {
  let tail: Uint8Array | undefined
  let fixedLength = 0
  switch (msg.type) {
    case 'want':
    case 'have-query':
      tail = msg.cid.bytes
      break
    case 'block':
      if (msg.bytes.byteLength > MAX_BLOCK_SIZE) {
        throw new KizunaError('ERR_BLOCK_TOO_LARGE', `block of ${msg.bytes.byteLength} bytes exceeds ${MAX_BLOCK_SIZE}`)
      }
      tail = msg.bytes
      break
    case 'have-reply':
      fixedLength = 1 + (msg.count !== undefined ? varintLength(msg.count) : 0)
      break
    case 'busy':
      fixedLength = varintLength(msg.retryAfterMs)
      break
    case 'error':
      tail = truncateUtf8(msg.message)
      break
    default:
      break
  }
  const tailLength = tail?.byteLength ?? 0
  const bodyLength = 1 + varintLength(msg.id) + fixedLength + tailLength
  const headerLength = varintLength(bodyLength) + bodyLength - tailLength
  const out = new Uint8Array(msg.type === 'block' ? headerLength : headerLength + tailLength)
  let o = writeVarint(bodyLength, out, 0)
  out[o++] = typeOf(msg)
  o = writeVarint(msg.id, out, o)
  if (msg.type === 'have-reply') {
    out[o++] = HAVE_STATES.indexOf(msg.has)
    if (msg.count !== undefined) {
      o = writeVarint(msg.count, out, o)
    }
  } else if (msg.type === 'busy') {
    o = writeVarint(msg.retryAfterMs, out, o)
  }
  if (tail === undefined) {
    return out
  }
  if (msg.type === 'block') {
    return new Uint8ArrayList(out, tail)
  }
  out.set(tail, o)
  return out
}

/**
 * The header of a BLOCK frame of `size` bytes, for a block written in pieces as it arrives
 * (relayed, see server/relay-block.ts): header + the block's bytes is the frame encodeMessage makes.
 */
export function encodeBlockHeader (id: number, size: number): Uint8Array {
  if (!Number.isSafeInteger(size) || size < 0 || size > MAX_BLOCK_SIZE) {
    throw new KizunaError('ERR_BLOCK_TOO_LARGE', `block of ${size} bytes exceeds ${MAX_BLOCK_SIZE}`)
  }
  const bodyLength = 1 + varintLength(id) + size
  const out = new Uint8Array(varintLength(bodyLength) + bodyLength - size)
  let o = writeVarint(bodyLength, out, 0)
  out[o++] = MessageType.BLOCK
  writeVarint(id, out, o)
  return out
}

/** A BLOCK frame the decoder holds part of: what has arrived of its payload so far */
export interface PartialBlock {
  id: number
  /** payload bytes the whole frame will carry */
  size: number
  /** payload bytes already here */
  received: number
  /**
   * A copy (or view) of payload bytes [from, to) of what is here. Valid only until more bytes are
   * pushed or the frame is taken by next(): read it at once.
   */
  read: (from: number, to: number) => Uint8Array
}

// ---- decoding ---------------------------------------------------------------------------------

export interface FrameDecoderOptions {
  /** Largest frame accepted; longer length claims fail with ERR_FRAME_TOO_LARGE */
  maxFrameLength?: number
  /**
   * Where a BLOCK payload that arrived in several chunks is assembled (it is copied once either
   * way): e.g. a recycled buffer from a pool. Must return exactly `size` bytes. Default: a new one.
   */
  allocBlock?: (size: number) => Uint8Array
}

/**
 * Incremental decoder: push chunks with any boundaries, pull whole messages with `next()`.
 * It never waits for more bytes than one maximal frame, and after an error it stays failed
 * (the stream is out of sync and must be dropped).
 */
export class FrameDecoder {
  private readonly buffer = new Uint8ArrayList()
  private readonly maxFrameLength: number
  private readonly allocBlock?: (size: number) => Uint8Array
  private failure?: KizunaError
  private readonly at = (i: number): number | undefined => i < this.buffer.byteLength ? this.buffer.get(i) : undefined

  constructor (options: FrameDecoderOptions = {}) {
    this.maxFrameLength = options.maxFrameLength ?? MAX_FRAME_LENGTH
    this.allocBlock = options.allocBlock
  }

  /** Bytes received and not yet returned as messages */
  get bufferedLength (): number {
    return this.buffer.byteLength
  }

  push (chunk: Uint8Array | Uint8ArrayList): void {
    if (this.failure !== undefined) {
      throw this.failure
    }
    if (chunk.byteLength > 0) {
      this.buffer.append(chunk)
    }
  }

  /** The next complete message, or undefined until more bytes arrive */
  next (): Message | undefined {
    if (this.failure !== undefined) {
      throw this.failure
    }
    try {
      return this.decodeOne()
    } catch (err) {
      this.failure = err instanceof KizunaError ? err : new MalformedFrameError(String((err as Error)?.message ?? err), { cause: err })
      this.buffer.consume(this.buffer.byteLength)
      throw this.failure
    }
  }

  /**
   * The BLOCK frame at the head of the buffer while it is still incomplete (call after next()
   * returned undefined); undefined for any other frame or an incomplete header.
   */
  partialBlock (): PartialBlock | undefined {
    if (this.failure !== undefined) return undefined
    const limit = this.maxFrameLength
    let header
    let idRead
    try {
      header = readVarint(this.at, 0, limit)
      if (header === NEED_MORE || this.at(header.next) !== MessageType.BLOCK) return undefined
      idRead = readVarint(this.at, header.next + 1, Number.MAX_SAFE_INTEGER)
    } catch {
      // next() reports a bad header; a peek does not
      return undefined
    }
    if (idRead === NEED_MORE) return undefined
    const payloadAt = idRead.next
    const size = header.next + header.value - payloadAt
    if (size < 0) return undefined
    const received = Math.min(size, this.buffer.byteLength - payloadAt)
    if (received >= size) return undefined
    const buffer = this.buffer
    return {
      id: idRead.value,
      size,
      received,
      read: (from, to) => buffer.subarray(payloadAt + from, payloadAt + to)
    }
  }

  private decodeOne (): Message | undefined {
    const limit = this.maxFrameLength
    const header = readVarint(this.at, 0, limit, (v) => new FrameTooLargeError(v, limit))
    if (header === NEED_MORE) {
      return undefined
    }
    const { value: length, next: start } = header
    if (length === 0) {
      throw new MalformedFrameError('empty frame')
    }
    if (this.buffer.byteLength < start + length) {
      return undefined
    }
    const frame = this.buffer.sublist(start, start + length)
    this.buffer.consume(start + length)
    return decodeFrameBody(frame, this.allocBlock)
  }
}

function decodeCid (bytes: Uint8Array): CID {
  if (bytes.byteLength === 0 || bytes.byteLength > MAX_CID_LENGTH) {
    throw new MalformedFrameError(`CID of ${bytes.byteLength} bytes`)
  }
  try {
    // copy: the CID outlives the frame and must not pin the transport's receive buffer
    return CID.decode(bytes.slice())
  } catch (err) {
    throw new MalformedFrameError(`bad CID: ${(err as Error)?.message ?? String(err)}`, { cause: err })
  }
}

/** Copies `chunks` (exactly target.byteLength bytes in all) into `target` */
function copyInto (chunks: Uint8Array[], target: Uint8Array): Uint8Array {
  let o = 0
  for (const chunk of chunks) {
    if (o + chunk.byteLength > target.byteLength) {
      throw new MalformedFrameError('block bytes overflow the assembly buffer')
    }
    target.set(chunk, o)
    o += chunk.byteLength
  }
  if (o !== target.byteLength) {
    throw new MalformedFrameError(`assembled ${o} of ${target.byteLength} block bytes`)
  }
  return target
}

/**
 * Decodes type + payload of one complete frame. `allocBlock` (see FrameDecoderOptions) receives
 * a BLOCK payload spread over several chunks.
 */
export function decodeFrameBody (frame: Uint8ArrayList, allocBlock?: (size: number) => Uint8Array): Message {
  const at = (i: number): number | undefined => i < frame.byteLength ? frame.get(i) : undefined
  const end = frame.byteLength
  const type = frame.get(0)
  const idRead = readVarint(at, 1, Number.MAX_SAFE_INTEGER)
  if (idRead === NEED_MORE) {
    throw new MalformedFrameError('truncated request id')
  }
  const { value: id, next: o } = idRead
  const rest = (): Uint8Array => frame.subarray(o, end)
  const noTrailing = (pos: number): void => {
    if (pos !== end) {
      throw new MalformedFrameError(`${end - pos} trailing byte(s) in type ${type} frame`)
    }
  }
  switch (type) {
    case MessageType.WANT:
      return { type: 'want', id, cid: decodeCid(rest()) }
    case MessageType.HAVE_QUERY:
      return { type: 'have-query', id, cid: decodeCid(rest()) }
    case MessageType.BLOCK: {
      // a view when the block arrived in one chunk and a single copy otherwise
      if (allocBlock === undefined) {
        return { type: 'block', id, bytes: rest() }
      }
      const chunks = [...frame.sublist(o, end)]
      if (chunks.length <= 1) {
        return { type: 'block', id, bytes: chunks[0] ?? new Uint8Array(0) }
      }
      return { type: 'block', id, bytes: copyInto(chunks, allocBlock(end - o)) }
    }
    case MessageType.DONT_HAVE:
      noTrailing(o)
      return { type: 'dont-have', id }
    case MessageType.REFER:
      noTrailing(o)
      return { type: 'refer', id }
    case MessageType.CANCEL:
      noTrailing(o)
      return { type: 'cancel', id }
    case MessageType.BUSY: {
      const r = readVarint(at, o, Number.MAX_SAFE_INTEGER)
      if (r === NEED_MORE) {
        throw new MalformedFrameError('truncated BUSY')
      }
      noTrailing(r.next)
      return { type: 'busy', id, retryAfterMs: r.value }
    }
    case MessageType.HAVE_REPLY: {
      const hasByte = at(o)
      if (hasByte === undefined) {
        throw new MalformedFrameError('truncated HAVE_REPLY')
      }
      const has = HAVE_STATES[hasByte]
      if (has === undefined) {
        throw new MalformedFrameError(`unknown have state ${hasByte}`)
      }
      if (o + 1 === end) {
        return { type: 'have-reply', id, has }
      }
      const r = readVarint(at, o + 1, Number.MAX_SAFE_INTEGER)
      if (r === NEED_MORE) {
        throw new MalformedFrameError('truncated HAVE_REPLY count')
      }
      noTrailing(r.next)
      return { type: 'have-reply', id, has, count: r.value }
    }
    case MessageType.ERROR: {
      if (end - o > MAX_ERROR_MESSAGE_LENGTH) {
        throw new MalformedFrameError('ERROR message too long')
      }
      return { type: 'error', id, message: textDecoder.decode(rest()) }
    }
    default:
      throw new MalformedFrameError(`unknown message type ${type}`)
  }
}

/** Decodes every complete message in `chunks`; for tests and tools */
export function decodeAll (chunks: Iterable<Uint8Array | Uint8ArrayList>, options?: FrameDecoderOptions): Message[] {
  const decoder = new FrameDecoder(options)
  const out: Message[] = []
  for (const chunk of chunks) {
    decoder.push(chunk)
    for (let m = decoder.next(); m !== undefined; m = decoder.next()) {
      out.push(m)
    }
  }
  return out
}
