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
 * flight stay under `cacheBytes`. Floor copies and fetches in flight are never evicted, so
 * floor copies (and floor fetches) also fit a budget of their own, `floorBytes`: others'
 * floors can never take the whole cache from the owner's downloads.
 */
export class CacheQuota {
  private readonly components: CacheQuotaComponents
  private readonly cacheBytes: number
  readonly floorBytes: number
  /** root → bytes reserved by its replica fetch (bounded by the concurrent fetch limit) */
  private readonly reserved = new Map<string, number>()
  /** the reserved roots that are floor copies */
  private readonly floorReserved = new Set<string>()

  constructor (components: CacheQuotaComponents, init: { cacheBytes: number, floorBytes?: number }) {
    this.components = components
    this.cacheBytes = init.cacheBytes
    this.floorBytes = init.floorBytes !== undefined && init.floorBytes > 0 ? init.floorBytes : Math.floor(init.cacheBytes / 4)
  }

  reserve (root: string, bytes: number, floor = false): void {
    this.reserved.set(root, bytes)
    if (floor) this.floorReserved.add(root)
  }

  release (root: string): void {
    this.reserved.delete(root)
    this.floorReserved.delete(root)
  }

  /** Whether `incomingBytes` more of floor copies fit the floor budget */
  async floorRoom (incomingBytes: number): Promise<boolean> {
    let used = 0
    for (const root of this.floorReserved) used += this.reserved.get(root) ?? 0
    for (const record of await this.components.content.list()) {
      if (record.kind === 'cached' && (this.components.meta.get(record.cid)?.floor ?? 0) > 0) used += record.blockBytes
    }
    return used + incomingBytes <= this.floorBytes
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
