import { KizunaError } from '../errors.js'
import type { CID } from 'multiformats/cid'

/**
 * Errors raised by local content handling. Each carries a stable `code` (see KizunaError) and the
 * offending CID or path as a field, so the exchange and API can react without parsing messages.
 */

export class BlockNotFoundError extends KizunaError {
  readonly cid: CID
  constructor (cid: CID, options?: { cause?: unknown }) {
    super('ERR_BLOCK_NOT_FOUND', `block ${cid.toString()} is not in the local block store`, options)
    this.cid = cid
  }
}

export class BlockHashMismatchError extends KizunaError {
  readonly cid: CID
  constructor (cid: CID) {
    super('ERR_BLOCK_HASH_MISMATCH', `bytes do not hash to ${cid.toString()}`)
    this.cid = cid
  }
}

export class UnsupportedHashError extends KizunaError {
  readonly hashCode: number
  constructor (cid: CID) {
    super('ERR_UNSUPPORTED_HASH', `cannot verify ${cid.toString()}: multihash code 0x${cid.multihash.code.toString(16)} is not supported`)
    this.hashCode = cid.multihash.code
  }
}

export class BlockTooLargeError extends KizunaError {
  readonly size: number
  readonly limit: number
  constructor (size: number, limit: number, cid?: CID) {
    const what = cid == null ? 'block' : `block ${cid.toString()}`
    super('ERR_BLOCK_TOO_LARGE', `${what} is ${size} bytes, over the ${limit} byte limit`)
    this.size = size
    this.limit = limit
  }
}

export class UnsupportedCodecError extends KizunaError {
  readonly codec: number
  constructor (cid: CID) {
    super('ERR_UNSUPPORTED_CODEC', `${cid.toString()} uses codec 0x${cid.code.toString(16)}; only dag-pb and raw are supported`)
    this.codec = cid.code
  }
}

/** A block whose bytes match its CID but do not decode as its codec (a hostile or buggy producer) */
export class InvalidBlockError extends KizunaError {
  readonly cid: CID
  constructor (cid: CID, cause: unknown) {
    super('ERR_INVALID_BLOCK', `block ${cid.toString()} does not decode: ${(cause as Error)?.message ?? String(cause)}`, { cause })
    this.cid = cid
  }
}

/** The blocks decode but do not form a valid UnixFS file or directory */
export class InvalidDagError extends KizunaError {
  readonly cid: CID
  constructor (cid: CID, cause: unknown) {
    super('ERR_INVALID_DAG', `${cid.toString()} is not a valid UnixFS DAG: ${(cause as Error)?.message ?? String(cause)}`, { cause })
    this.cid = cid
  }
}

export class PathNotFoundError extends KizunaError {
  readonly path: string
  constructor (path: string, options?: { cause?: unknown }) {
    super('ERR_PATH_NOT_FOUND', `no such file or directory: ${path}`, options)
    this.path = path
  }
}

export class PathUnreadableError extends KizunaError {
  readonly path: string
  constructor (path: string, cause: unknown) {
    super('ERR_PATH_UNREADABLE', `cannot read ${path}: ${(cause as Error)?.message ?? String(cause)}`, { cause })
    this.path = path
  }
}

export class OutputExistsError extends KizunaError {
  readonly path: string
  constructor (path: string) {
    super('ERR_OUTPUT_EXISTS', `${path} already exists; pass --force to overwrite it (API: "force": true)`)
    this.path = path
  }
}

/** A directory DAG names an entry that would escape or clobber the output directory */
export class UnsafePathError extends KizunaError {
  readonly entryName: string
  constructor (entryName: string, reason: string) {
    super('ERR_UNSAFE_PATH', `refusing directory entry ${JSON.stringify(entryName)}: ${reason}`)
    this.entryName = entryName
  }
}

/** The CID is not a root in the content index (never added, or already removed) */
export class ContentNotFoundError extends KizunaError {
  readonly cid: CID
  constructor (cid: CID) {
    super('ERR_CONTENT_NOT_FOUND', `${cid.toString()} is not pinned or cached on this node`)
    this.cid = cid
  }
}

/** Writing the exported output failed (disk full, permissions...); nothing is left at the target */
export class OutputFailedError extends KizunaError {
  readonly path: string
  constructor (path: string, cause: unknown) {
    super('ERR_OUTPUT_FAILED', `cannot write ${path}: ${(cause as Error)?.message ?? String(cause)}`, { cause })
    this.path = path
  }
}

/** A download would write more than the output cap allows (or the disk has room for) */
export class OutputTooLargeError extends KizunaError {
  readonly size: number
  readonly limit: number
  constructor (path: string, size: number, limit: number, why: string) {
    super('ERR_OUTPUT_TOO_LARGE', `refusing to write ${path}: the content expands to ${size} bytes, over ${why} (${limit} bytes)`)
    this.size = size
    this.limit = limit
  }
}
