import { LengthPrefixedDecoder } from '@libp2p/utils'
import * as lp from 'it-length-prefixed'
import type { Uint8ArrayList } from 'uint8arraylist'
import { CID } from 'multiformats/cid'
import { KizunaError } from '../errors.js'
import { POSSESSION_NONCE_BYTES } from '../content/blocks/possession.js'
import { MAX_FLOOR, MAX_HINTS, MAX_HINT_LENGTH, MAX_REPLICATION_FRAME, REPLICATE_PROTOCOL } from './constants.js'

export { MAX_FLOOR, MAX_HINTS, MAX_HINT_LENGTH, MAX_REPLICATION_FRAME, REPLICATE_PROTOCOL }
/** A varint length prefix of a frame up to MAX_REPLICATION_FRAME is at most this long */
const MAX_PREFIX_BYTES = 3
/** Bytes the incremental decoder buffers: a few whole frames; garbage that never ends a prefix is refused */
const MAX_BUFFERED_BYTES = 4 * (MAX_REPLICATION_FRAME + MAX_PREFIX_BYTES)
const NONCE_HEX_LENGTH = POSSESSION_NONCE_BYTES * 2
const NONCE_PATTERN = new RegExp(`^[0-9a-f]{${NONCE_HEX_LENGTH}}$`)
const PROOF_PATTERN = /^[0-9a-f]{64}$/

export type OfferReason = 'demand' | 'floor'
export type HolderKind = 'pinned' | 'cached'

export interface OfferMessage { type: 'offer', root: CID, size: number, reason: OfferReason, floor: number, hints: string[] }
export interface OfferReplyMessage { type: 'offer-reply', accepted: boolean, reason?: string }
/** `probe`: prove you hold this block of the DAG by answering sha256(nonce ‖ block) */
export interface HolderQueryMessage { type: 'holder-query', root: CID, probe?: { cid: CID, nonce: string } }
export interface HolderReplyMessage { type: 'holder-reply', has: 'none' | 'partial' | 'full', kind?: HolderKind, floor?: number, proof?: string }

export type ReplicationMessage = OfferMessage | OfferReplyMessage | HolderQueryMessage | HolderReplyMessage

export class ReplicationFrameError extends KizunaError {
  constructor (message: string) {
    super('ERR_MALFORMED_FRAME', message)
  }
}

/** The JSON body of one message (framing is the length-prefixed stream's) */
export function encodeReplicationMessage (message: ReplicationMessage): Uint8Array {
  // CID.toJSON yields {"/": ...}; the wire carries the plain string form
  const wire: Record<string, unknown> = { ...message }
  if ('root' in message) wire.root = message.root.toString()
  if (message.type === 'holder-query' && message.probe !== undefined) wire.probe = { cid: message.probe.cid.toString(), nonce: message.probe.nonce }
  const body = new TextEncoder().encode(JSON.stringify(wire))
  if (body.length > MAX_REPLICATION_FRAME) {
    throw new ReplicationFrameError(`message of ${body.length} bytes exceeds ${MAX_REPLICATION_FRAME}`)
  }
  return body
}

/** One message with its varint length prefix, as it goes on the wire */
export function encodeReplicationFrame (message: ReplicationMessage): Uint8Array {
  return lp.encode.single(encodeReplicationMessage(message)).subarray()
}

function fail (message: string): never {
  throw new ReplicationFrameError(message)
}

function cidField (value: unknown, field: string): CID {
  if (typeof value !== 'string' || value.length > 256) fail(`${field} must be a CID string`)
  try {
    return CID.parse(value)
  } catch {
    fail(`${field} is not a valid CID`)
  }
}

export function decodeReplicationMessage (body: Uint8Array): ReplicationMessage {
  let parsed: Record<string, unknown>
  try {
    parsed = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(body))
  } catch {
    fail('body is not UTF-8 JSON')
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) fail('body must be a JSON object')
  switch (parsed.type) {
    case 'offer': {
      const { size, reason, floor, hints } = parsed
      if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) fail('offer.size must be a whole number of bytes')
      if (reason !== 'demand' && reason !== 'floor') fail('offer.reason must be "demand" or "floor"')
      if (typeof floor !== 'number' || !Number.isInteger(floor) || floor < 0 || floor > MAX_FLOOR) fail(`offer.floor must be 0..${MAX_FLOOR}`)
      if (!Array.isArray(hints) || hints.length > MAX_HINTS || hints.some(h => typeof h !== 'string' || h.length > MAX_HINT_LENGTH)) fail(`offer.hints must be at most ${MAX_HINTS} short strings`)
      return { type: 'offer', root: cidField(parsed.root, 'offer.root'), size, reason, floor, hints: hints as string[] }
    }
    case 'offer-reply': {
      if (typeof parsed.accepted !== 'boolean') fail('offer-reply.accepted must be a boolean')
      if (parsed.reason !== undefined && (typeof parsed.reason !== 'string' || parsed.reason.length > 200)) fail('offer-reply.reason must be a short string')
      return { type: 'offer-reply', accepted: parsed.accepted, reason: parsed.reason as string | undefined }
    }
    case 'holder-query': {
      const root = cidField(parsed.root, 'holder-query.root')
      if (parsed.probe === undefined) return { type: 'holder-query', root }
      const probe = parsed.probe as Record<string, unknown> | null
      if (typeof probe !== 'object' || probe === null || Array.isArray(probe)) fail('holder-query.probe must be an object')
      if (typeof probe.nonce !== 'string' || !NONCE_PATTERN.test(probe.nonce)) fail(`holder-query.probe.nonce must be ${NONCE_HEX_LENGTH} hex digits`)
      return { type: 'holder-query', root, probe: { cid: cidField(probe.cid, 'holder-query.probe.cid'), nonce: probe.nonce } }
    }
    case 'holder-reply': {
      const { has, kind, floor, proof } = parsed
      if (proof !== undefined && (typeof proof !== 'string' || !PROOF_PATTERN.test(proof))) fail('holder-reply.proof must be 64 hex digits')
      if (has !== 'none' && has !== 'partial' && has !== 'full') fail('holder-reply.has must be none, partial or full')
      if (kind !== undefined && kind !== 'pinned' && kind !== 'cached') fail('holder-reply.kind must be pinned or cached')
      if (floor !== undefined && (typeof floor !== 'number' || !Number.isInteger(floor) || floor < 0 || floor > MAX_FLOOR)) fail('holder-reply.floor out of range')
      return { type: 'holder-reply', has, kind: kind as HolderKind | undefined, floor: floor as number | undefined, proof: proof as string | undefined }
    }
    default:
      fail(`unknown message type ${JSON.stringify(parsed.type)?.slice(0, 40)}`)
  }
}

/**
 * Incremental decoder: push chunks, take whole messages out. A frame whose prefix claims more
 * than MAX_REPLICATION_FRAME is refused before its body is buffered.
 */
export class ReplicationDecoder {
  private readonly frames = new LengthPrefixedDecoder({ maxDataLength: MAX_REPLICATION_FRAME, maxBufferSize: MAX_BUFFERED_BYTES })

  push (chunk: Uint8Array | Uint8ArrayList): ReplicationMessage[] {
    const bodies: Uint8ArrayList[] = []
    try {
      for (const body of this.frames.decode(chunk)) bodies.push(body)
    } catch (err) {
      throw new ReplicationFrameError(`frame claims more than ${MAX_REPLICATION_FRAME} bytes or has a malformed length prefix (${(err as Error).message})`)
    }
    return bodies.map(body => decodeReplicationMessage(body.subarray()))
  }
}
