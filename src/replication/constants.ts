/**
 * Replication's named constants, one per concept, defined once. Tunables a node operator may
 * change live in `ReplicationInit` (replication-service.ts); these are the protocol's fixed bounds.
 */

/** The replication wire protocol (length-prefixed JSON documents) */
export const REPLICATE_PROTOCOL = '/kizuna/replicate/1.0.0'
/** Replication messages are small JSON documents; a frame claiming more is refused unread */
export const MAX_REPLICATION_FRAME = 16 * 1024
/** Replication streams a peer may have open to us at once */
export const MAX_INBOUND_REPLICATION_STREAMS = 32
/** One offer or holder query, including the dial, may take this long */
export const REPLICATION_REQUEST_TIMEOUT_MS = 10_000
/** One search for holders (DHT + the holders' own answers) may take this long */
export const HOLDER_SEARCH_TIMEOUT_MS = 8_000

/** The replica bound: a floor (copies the network keeps) is 0..MAX_FLOOR; `add --replicas` takes 1..MAX_FLOOR */
export const MAX_FLOOR = 64
/** Address hints an offer may carry (and a replica fetch uses) */
export const MAX_HINTS = 8
export const MAX_HINT_LENGTH = 512
/** Our own addresses put in an offer, so the recruit can dial back */
export const OFFER_OWN_HINTS = 4
/** Placement candidates ranked per copy wanted (closest first, then a random share) */
export const CANDIDATES_PER_COPY = 3

/** After a recruitment round for a root, wait this many check intervals before the next */
export const RECRUIT_COOLDOWN_ROUNDS = 2
/** A peer that was offered a root is not asked again for it for this long */
export const REOFFER_AFTER_MS = 60_000
/**
 * A satisfied floor is re-counted only every this many rounds (a count costs a DHT query and a
 * proof per holder); an eviction or a new floor forces an immediate count.
 */
export const FLOOR_RECHECK_ROUNDS = 5
/** Rounds between holder counts driven by demand alone */
export const DEMAND_RECOUNT_ROUNDS = 3
/**
 * A cached copy this young (its record's addedAt) came from a download or an offer we took: it is
 * itself a replica the demand made, so its demand leaves holder counting to older copies
 * (docs/replication-notes.md).
 */
export const FRESH_COPY_QUIET_MS = 60_000
/**
 * A peer that sent a holder query is checking our copy, not downloading it: the probe block it
 * fetches next must not count as demand or keep the copy warm, for this long.
 */
export const CHECKER_WINDOW_MS = 30_000
/** A root whose offered fetch failed is declined for this long (no retry storm) */
export const FAILED_OFFER_MEMORY_MS = 5 * 60_000
/** A served root's record is touched (kept warm) at most this often */
export const TOUCH_EVERY_MS = 5_000

/** Bounds on replication's in-memory state; each map also forgets entries whose window passed */
export const MAX_TRACKED_ROOTS = 4_096
/** (root, peer) pairs remembered: offers we sent, holder checks we answered */
export const MAX_TRACKED_PAIRS = 8_192
/** Blocks mapped to their root for demand counting; blocks past this are not counted */
export const MAX_INDEXED_BLOCKS = 262_144
