import type { ContentRecord, ContentStore } from '../content/index.js'
import { planEviction, type CacheCandidate, type EvictionPlan } from './cache-policy.js'
import type { DemandTracker } from './demand.js'
import type { ReplicaMetaStore } from './replica-meta.js'

export interface CacheQuotaComponents {
  content: ContentStore
  meta: ReplicaMetaStore
  demand: DemandTracker
  /** removes a root and everything replication knew of it */
  drop: (record: ContentRecord, why: string) => Promise<void>
}

/**
 * The cache quota: cached (not pinned) bytes plus the bytes reserved by replica fetches in
 * flight stay under `cacheBytes`. Floor copies and fetches in flight are never evicted.
 */
export class CacheQuota {
  private readonly components: CacheQuotaComponents
  private readonly cacheBytes: number
  /** root → bytes reserved by its replica fetch (bounded by the concurrent fetch limit) */
  private readonly reserved = new Map<string, number>()

  constructor (components: CacheQuotaComponents, init: { cacheBytes: number }) {
    this.components = components
    this.cacheBytes = init.cacheBytes
  }

  reserve (root: string, bytes: number): void {
    this.reserved.set(root, bytes)
  }

  release (root: string): void {
    this.reserved.delete(root)
  }

  isReserved (root: string): boolean {
    return this.reserved.has(root)
  }

  get reservations (): number {
    return this.reserved.size
  }

  /** Makes room for `incomingBytes` by dropping cold cached copies; false when it cannot */
  async makeRoom (incomingBytes: number, why: string): Promise<boolean> {
    const { plan, records } = await this.plan(incomingBytes)
    if (plan == null) return false
    for (const victim of plan.evict) await this.components.drop(records.get(victim.cid)!, why)
    return true
  }

  /** Brings cached bytes back under the quota (a user's `get` also stores as cached) */
  async enforce (): Promise<void> {
    const { plan, candidates, records, over } = await this.plan(0)
    if (!over) return
    for (const victim of plan?.evict ?? candidates) await this.components.drop(records.get(victim.cid)!, 'over cache quota')
  }

  private async plan (incomingBytes: number): Promise<{ plan?: EvictionPlan, candidates: CacheCandidate[], records: Map<string, ContentRecord>, over: boolean }> {
    const { meta, demand, content } = this.components
    const records = new Map<string, ContentRecord>()
    const candidates: CacheCandidate[] = []
    let used = 0
    for (const bytes of this.reserved.values()) used += bytes
    for (const record of await content.list()) {
      if (record.kind !== 'cached') continue
      const key = record.cid.toString()
      used += record.blockBytes
      if ((meta.get(key)?.floor ?? 0) > 0 || this.reserved.has(key)) continue
      records.set(key, record)
      candidates.push({ cid: key, size: record.blockBytes, lastAccess: record.lastAccess, ratePerMinute: demand.ratePerMinute(key) })
    }
    const plan = planEviction(candidates, used, this.cacheBytes, { size: incomingBytes }, Date.now())
    return { plan, candidates, records, over: used > this.cacheBytes }
  }
}
