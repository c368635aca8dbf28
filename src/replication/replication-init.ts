import { DEFAULT_DEMAND_HALF_LIFE_MS } from './demand.js'

/** What a node operator may tune (config.json / daemon flags map onto these) */
export interface ReplicationInit {
  /** bytes of cached (not pinned) content this node keeps for others */
  cacheBytes: number
  /** demand (requests per minute) above which a holder recruits more holders */
  hotRatePerMinute: number
  /** at most this many copies are added for demand */
  maxDemandReplicas: number
  /** ms between replication rounds */
  checkIntervalMs: number
  /** a cached copy nobody asked for in this long ages out */
  cacheIdleMs: number
  /** offers accepted from one peer per minute; more are declined */
  offersPerMinutePerPeer: number
  /** an accepted offer whose content cannot be fetched in this long is given up */
  fetchTimeoutMs: number
  /** replica fetches running at once */
  maxConcurrentFetches: number
  /** ms for the demand estimate to halve once requests stop */
  demandHalfLifeMs: number
}

export const DEFAULT_REPLICATION: ReplicationInit = {
  cacheBytes: 10 * 1024 * 1024 * 1024,
  hotRatePerMinute: 6,
  maxDemandReplicas: 8,
  checkIntervalMs: 10_000,
  cacheIdleMs: 10 * 60_000,
  offersPerMinutePerPeer: 30,
  fetchTimeoutMs: 5 * 60_000,
  maxConcurrentFetches: 2,
  demandHalfLifeMs: DEFAULT_DEMAND_HALF_LIFE_MS
}
