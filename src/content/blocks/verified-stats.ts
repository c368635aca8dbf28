import { LRUCache } from 'lru-cache'
import type { BigIntStats } from 'node:fs'

/** Blocks whose last verification is remembered (about 200 bytes each) */
export const MAX_VERIFIED_BLOCKS = 16_384
/**
 * How long an unchanged stat may stand in for a hash. Rot on the disk changes no stat, so this
 * bounds how long a block that rotted after its last hash can be served before we notice.
 */
export const VERIFIED_FOR_MS = 10 * 60_000
/**
 * A file changed this recently can change again within the same timestamp tick and keep its stat
 * (coarse kernel clocks; FAT keeps 2 s), so a hash of it is not remembered until it is older.
 */
export const RACY_CHANGE_MS = 2_000

export interface VerifiedStatsInit {
  max?: number
  ttlMs?: number
  /** Monotonic clock for the TTL (performance.now) */
  now?: () => number
  /** Wall clock compared with files' change times (Date.now) */
  wallNow?: () => number
}

/**
 * Block key → the stat (device, inode, size, mtime, ctime) its file had when the block's bytes were
 * last hashed against its CID. While a file's stat is unchanged its bytes are taken as unchanged
 * (what rsync and Syncthing rely on), so serving a block does not hash it again.
 */
export class VerifiedStats {
  private readonly verified: LRUCache<string, string>
  private readonly wallNow: () => number

  constructor (init: VerifiedStatsInit = {}) {
    this.verified = new LRUCache({
      max: init.max ?? MAX_VERIFIED_BLOCKS,
      ttl: init.ttlMs ?? VERIFIED_FOR_MS,
      // every lookup reads the clock: a cached "now" costs a timer per millisecond of reads
      ttlResolution: 0,
      ...(init.now != null ? { perf: { now: init.now } } : {})
    })
    this.wallNow = init.wallNow ?? Date.now
  }

  /** True when `key`'s bytes were hashed, within the TTL, while its file had exactly this stat */
  vouches (key: string, stat: BigIntStats): boolean {
    return this.verified.get(key) === signature(stat)
  }

  /**
   * Remembers that `key`'s bytes matched its CID while its file had `stat`. `racy`: others may
   * write the file (a user's file), so a file changed moments ago is not vouched for.
   */
  remember (key: string, stat: BigIntStats, options: { racy?: boolean } = {}): void {
    if (options.racy === true && BigInt(Math.floor(this.wallNow())) - stat.ctimeMs < RACY_CHANGE_MS) {
      this.verified.delete(key)
      return
    }
    this.verified.set(key, signature(stat))
  }

  forget (key: string): void {
    this.verified.delete(key)
  }
}

function signature (stat: BigIntStats): string {
  return `${stat.dev}:${stat.ino}:${stat.size}:${stat.mtimeNs}:${stat.ctimeNs}`
}
