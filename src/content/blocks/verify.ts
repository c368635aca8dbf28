import { createHash } from 'node:crypto'
import { identity } from 'multiformats/hashes/identity'
import { sha256, sha512 } from 'multiformats/hashes/sha2'
import { BlockHashMismatchError, BlockTooLargeError, UnsupportedHashError } from '../errors.js'
import type { CID } from 'multiformats/cid'

/**
 * The largest block we store, serve or accept from a peer. Our own imports produce 1 MiB leaves
 * (see layout.ts) and much smaller interior nodes; 2 MiB leaves room for other producers' chunkers
 * while bounding what a hostile peer can make us buffer and hash per block.
 */
export const MAX_BLOCK_SIZE = 2 * 1024 * 1024

/**
 * multihash code -> node:crypto algorithm and full digest length. node:crypto is used instead of
 * multiformats' hashers because it hashes synchronously in native code with no promise per block,
 * which matters on the exchange's hot path.
 */
const NODE_HASHES = new Map<number, { algorithm: string, length: number }>([
  [sha256.code, { algorithm: 'sha256', length: 32 }],
  [sha512.code, { algorithm: 'sha512', length: 64 }]
])

/** Throws ERR_BLOCK_TOO_LARGE when a block of `size` bytes exceeds MAX_BLOCK_SIZE */
export function checkBlockSize (size: number, cid?: CID): void {
  if (size > MAX_BLOCK_SIZE) {
    throw new BlockTooLargeError(size, MAX_BLOCK_SIZE, cid)
  }
}

/** True when verifyBlock can check blocks addressed with this CID's multihash */
export function isSupportedHash (cid: CID): boolean {
  const hash = NODE_HASHES.get(cid.multihash.code)
  if (hash != null) {
    return cid.multihash.size === hash.length
  }
  return cid.multihash.code === identity.code
}

/**
 * Checks that `bytes` is the block `cid` names. Throws ERR_BLOCK_TOO_LARGE, ERR_UNSUPPORTED_HASH
 * or ERR_BLOCK_HASH_MISMATCH; returns nothing on success.
 *
 * Only full-length sha2-256 / sha2-512 digests and identity multihashes are accepted: a truncated
 * digest is reported as unsupported rather than silently compared on a prefix.
 */
export function verifyBlock (cid: CID, bytes: Uint8Array): void {
  // Size first: it is free and stops us hashing an oversized hostile payload.
  checkBlockSize(bytes.byteLength, cid)

  const multihash = cid.multihash

  if (multihash.code === identity.code) {
    if (!equalBytes(multihash.digest, bytes)) {
      throw new BlockHashMismatchError(cid)
    }
    return
  }

  const hash = NODE_HASHES.get(multihash.code)
  if (hash == null || multihash.size !== hash.length) {
    throw new UnsupportedHashError(cid)
  }

  const digest = createHash(hash.algorithm).update(bytes).digest()
  if (!digest.equals(multihash.digest)) {
    throw new BlockHashMismatchError(cid)
  }
}

function equalBytes (a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === b.byteLength && Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(b)
}
