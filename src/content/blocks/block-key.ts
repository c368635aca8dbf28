import { base32 } from 'multiformats/bases/base32'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import * as Digest from 'multiformats/hashes/digest'

/**
 * Block identity inside Kizuna is the multihash, not the whole CID: the same bytes named as raw
 * or as dag-pb (or as CIDv0 and CIDv1) are one block on disk. blockstore-fs keys its files the
 * same way, so every map, set and membership list in src/content uses this key.
 */
export function blockKey (cid: CID): string {
  return base32.baseEncode(cid.multihash.bytes)
}

/**
 * Rebuilds a CID for a block known only by its multihash (all a multihash-keyed store can list).
 * The codec is not recoverable, so this is always CIDv1 raw: right for sizes, has/get/delete and
 * comparisons via blockKey, wrong for decoding links (use the CIDs found in the DAG for that).
 */
export function rawCidFromMultihash (multihash: Uint8Array): CID {
  return CID.createV1(raw.code, Digest.decode(multihash))
}
