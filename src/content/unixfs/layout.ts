import { fixedSize } from 'ipfs-unixfs-importer/chunker'
import { balanced } from 'ipfs-unixfs-importer/layout'
import type { ImporterOptions } from 'ipfs-unixfs-importer'

/**
 * How Kizuna turns bytes into a UnixFS DAG. Every value here changes root CIDs, so they are pinned
 * explicitly instead of inherited from library defaults that may move between versions.
 *
 * They are chosen so that the same bytes give the same root CID as `@helia/unixfs` (v8)
 * `addBytes` / `addByteStream` / `addAll` with default options. Helia passes its own
 * `defaultImporterSettings` (cidVersion 1, rawLeaves true, balanced layout with 1024 children per
 * node, fixed 1 MiB chunks; node_modules/@helia/unixfs/dist/src/commands/add.js) on top of
 * ipfs-unixfs-importer 17's defaults for everything else (constants.js there). The result matches
 * the "unixfs-v1-2025" profile for files; for directories it differs from that profile in
 * estimating HAMT shard splits by link bytes (Helia's default) rather than block bytes.
 * Interop with Helia/IPFS tooling is the point: a Kizuna CID can be fetched or checked by them.
 *
 * test/content/unixfs/helia-equality.test.ts guards this.
 */

/** CIDv1: base32 strings, and raw leaves need it (CIDv0 can only name dag-pb) */
export const CID_VERSION = 1

/** File chunks are stored as `raw` blocks (no protobuf wrapper), so a leaf's CID is just its bytes' hash */
export const RAW_LEAVES = true

/** 1 MiB fixed-size chunks: large blocks mean fewer round trips and less per-block overhead */
export const CHUNK_SIZE = 1_048_576

/** Balanced tree, up to 1024 links per interior node (a 1 GiB file is one level of links) */
export const MAX_CHILDREN_PER_NODE = 1024

/** A file of at most one chunk is that chunk: its root CID is the raw leaf's CID */
export const REDUCE_SINGLE_LEAF_TO_SELF = true

/** dag-pb field order used by encoders since 2015 (and by Helia) */
export const FIELD_ORDER = 'links-first' as const

/** Directories switch to a HAMT once their node would exceed 256 KiB, estimated from link bytes */
export const SHARD_SPLIT_THRESHOLD_BYTES = 262_144
export const SHARD_SPLIT_STRATEGY = 'links-bytes' as const
/** 256-way HAMT buckets */
export const SHARD_FANOUT_BITS = 8

/** Options for ipfs-unixfs-importer. A fresh object each call: the importer mutates options */
export function importerOptions (): ImporterOptions {
  return {
    cidVersion: CID_VERSION,
    rawLeaves: RAW_LEAVES,
    leafType: 'file',
    reduceSingleLeafToSelf: REDUCE_SINGLE_LEAF_TO_SELF,
    fieldOrder: FIELD_ORDER,
    chunker: fixedSize({ chunkSize: CHUNK_SIZE }),
    layout: balanced({ maxChildrenPerNode: MAX_CHILDREN_PER_NODE }),
    shardSplitThresholdBytes: SHARD_SPLIT_THRESHOLD_BYTES,
    shardSplitStrategy: SHARD_SPLIT_STRATEGY,
    shardFanoutBits: SHARD_FANOUT_BITS,
    wrapWithDirectory: false
  }
}
