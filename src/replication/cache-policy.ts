/**
 * Which cached roots to drop to make room. Value per byte, aged (GreedyDual-Size in spirit):
 * a copy that is requested often and recently is worth keeping, a big cold one is the first
 * to go. Pinned content never appears here: only `cached` roots are candidates.
 */
export interface CacheCandidate {
  cid: string
  size: number
  /** ms since epoch of the last request served or fetch made */
  lastAccess: number
  /** current decayed demand, requests per minute */
  ratePerMinute: number
}

/** Recency counts as much as one request per minute when it is this fresh, and fades after */
export const RECENCY_SCALE_MS = 10 * 60_000

export function cacheValue (candidate: CacheCandidate, now: number): number {
  const recency = Math.exp(-(now - candidate.lastAccess) / RECENCY_SCALE_MS)
  return (candidate.ratePerMinute + recency) / Math.max(1, candidate.size)
}

export interface EvictionPlan {
  /** roots to remove, least valuable first */
  evict: CacheCandidate[]
  freedBytes: number
}

/**
 * Plans evictions so that `usedBytes - freed + incomingBytes <= quotaBytes`. Returns undefined
 * when even dropping every candidate cannot make room (the offer must then be declined).
 * Candidates more valuable per byte than the incoming item are kept: a cold offer does not
 * push out a hot copy.
 */
export function planEviction (candidates: CacheCandidate[], usedBytes: number, quotaBytes: number, incoming: { size: number, value?: number }, now: number): EvictionPlan | undefined {
  const needed = usedBytes + incoming.size - quotaBytes
  if (incoming.size > quotaBytes) return undefined
  if (needed <= 0) return { evict: [], freedBytes: 0 }
  const ordered = [...candidates].sort((a, b) => cacheValue(a, now) - cacheValue(b, now))
  const evict: CacheCandidate[] = []
  let freed = 0
  for (const candidate of ordered) {
    if (freed >= needed) break
    if (incoming.value !== undefined && cacheValue(candidate, now) > incoming.value) break
    evict.push(candidate)
    freed += candidate.size
  }
  return freed >= needed ? { evict, freedBytes: freed } : undefined
}
