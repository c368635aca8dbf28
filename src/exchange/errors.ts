import { KizunaError } from '../errors.js'
import type { CID } from 'multiformats/cid'

/** A frame announced a length over the limit; raised before any of it is buffered */
export class FrameTooLargeError extends KizunaError {
  readonly length: number
  readonly limit: number
  constructor (length: number, limit: number) {
    super('ERR_FRAME_TOO_LARGE', `frame of ${length} bytes exceeds the limit of ${limit} bytes`)
    this.length = length
    this.limit = limit
  }
}

/** Bytes on the wire that are not a valid exchange frame (bad varint, unknown type, bad CID...) */
export class MalformedFrameError extends KizunaError {
  constructor (message: string, options?: { cause?: unknown }) {
    super('ERR_MALFORMED_FRAME', `malformed exchange frame: ${message}`, options)
  }
}

/** The remote sent a well-formed frame that makes no sense here (e.g. a reply to a request never made) */
export class ProtocolViolationError extends KizunaError {
  constructor (message: string) {
    super('ERR_PROTOCOL_VIOLATION', `exchange protocol violation: ${message}`)
  }
}

export class RequestTimeoutError extends KizunaError {
  constructor (what: string, ms: number) {
    super('ERR_REQUEST_TIMEOUT', `${what} got no answer within ${ms} ms`)
  }
}

export class ChannelClosedError extends KizunaError {
  constructor (reason: string, options?: { cause?: unknown }) {
    super('ERR_CHANNEL_CLOSED', `exchange channel closed: ${reason}`, options)
  }
}

export class AbortedError extends KizunaError {
  constructor (message = 'the operation was aborted', options?: { cause?: unknown }) {
    super('ERR_ABORTED', message, options)
  }
}

/** The remote answered ERROR to a request */
export class RemoteError extends KizunaError {
  constructor (message: string) {
    super('ERR_REMOTE_ERROR', `remote error: ${message}`)
  }
}

/** Bytes received for a CID do not hash to it */
export class BadBlockError extends KizunaError {
  readonly cid: CID
  constructor (cid: CID, from: string) {
    super('ERR_BAD_BLOCK', `block ${cid.toString()} from ${from} does not match its CID`)
    this.cid = cid
  }
}

export class NoProvidersError extends KizunaError {
  readonly root: CID
  constructor (root: CID, reason: string) {
    super('ERR_NO_PROVIDERS', `no provider for ${root.toString()}: ${reason}`)
    this.root = root
  }
}

export class FetchFailedError extends KizunaError {
  readonly root: CID
  /** Blocks known to be needed and not obtained; children of these are not yet known */
  readonly missing: CID[]
  constructor (root: CID, missing: CID[], reason: string) {
    const shown = missing.slice(0, 5).map(c => c.toString()).join(', ')
    const more = missing.length > 5 ? ` and ${missing.length - 5} more` : ''
    super('ERR_FETCH_FAILED', `could not fetch ${root.toString()}: ${reason}; missing ${missing.length} block(s): ${shown}${more}`)
    this.root = root
    this.missing = missing
  }
}
