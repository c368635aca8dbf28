import { DEMAND_RECOUNT_ROUNDS, FLOOR_RECHECK_ROUNDS, FRESH_COPY_QUIET_MS, RECRUIT_COOLDOWN_ROUNDS } from './constants.js'
import type { OfferReason } from './codec.js'

/**
 * The replication round's decisions as pure functions: what we know of one root in, actions
 * out. The executor (round-executor.ts) does the network and disk work they ask for.
 */
export interface PlannerPolicy {
  hotRatePerMinute: number
  maxDemandReplicas: number
  checkIntervalMs: number
  cacheIdleMs: number
}

export interface RootFacts {
  kind: 'pinned' | 'cached'
  /** the replica floor we know for the root (0: none) */
  floor: number
  /** decayed demand, requests per minute */
  ratePerMinute: number
  /** ms since the copy was stored (its record's addedAt) */
  ageMs: number
  /** ms since the copy was last used or stored */
  idleMs: number
  /** a replica fetch of it is still running here */
  fetching: boolean
  /** ms since our last holder count (Infinity: never counted) */
  sinceCountMs: number
  /** verified holders at our last count (0: never counted) */
  lastVerified: number
  /** ms since we last recruited for it (Infinity: never) */
  sinceRecruitMs: number
  /** a count is wanted now whatever its age (a peer was evicted, a floor was set) */
  forceCount: boolean
}

export interface RoundPlan {
  /** count the holders (a DHT walk plus a proof from each), and why */
  count?: OfferReason
  /** the cached copy is idle: drop it now, or only if more than the floor hold it */
  ageOut?: 'drop' | 'if-above-floor'
  /** copies demand asks for (0 when the root is not hot) */
  demandTarget: number
}

/** Copies wanted for demand: one more per hotRate of requests per minute, capped */
export function demandTarget (ratePerMinute: number, policy: PlannerPolicy): number {
  if (ratePerMinute < policy.hotRatePerMinute) return 0
  return Math.min(policy.maxDemandReplicas, 1 + Math.ceil(ratePerMinute / policy.hotRatePerMinute))
}

/**
 * First step of a root's round. Counting asks every holder for a possession proof, so in a
 * flash crowd (every holder hot) a demand recount waits DEMAND_RECOUNT_ROUNDS, a count that met
 * its target is trusted for FLOOR_RECHECK_ROUNDS, and a fresh cached copy leaves counting to
 * the copies that were there before it (docs/replication-notes.md).
 */
export function planRoot (facts: RootFacts, policy: PlannerPolicy): RoundPlan {
  const interval = policy.checkIntervalMs
  const hot = facts.ratePerMinute >= policy.hotRatePerMinute
  const target = demandTarget(facts.ratePerMinute, policy)
  const cooling = facts.sinceRecruitMs < interval * RECRUIT_COOLDOWN_ROUNDS
  const countIsFresh = facts.sinceCountMs < interval * FLOOR_RECHECK_ROUNDS
  const floorNeedsCount = facts.floor > 0 && (facts.forceCount || facts.lastVerified < facts.floor || !countIsFresh)
  const demandCountIsStale = facts.sinceCountMs >= interval * DEMAND_RECOUNT_ROUNDS
  const freshCopy = facts.kind === 'cached' && facts.ageMs < FRESH_COPY_QUIET_MS
  const hotNeedsCount = hot && !freshCopy && (facts.forceCount || !countIsFresh || (facts.lastVerified < target && demandCountIsStale))

  const plan: RoundPlan = { demandTarget: target }
  if (!cooling && (floorNeedsCount || hotNeedsCount)) plan.count = floorNeedsCount ? 'floor' : 'demand'
  if (facts.kind === 'cached' && !hot && !facts.fetching && facts.idleMs >= policy.cacheIdleMs) {
    plan.ageOut = facts.floor > 0 ? 'if-above-floor' : 'drop'
  }
  return plan
}

export interface CountFacts {
  /** holders that proved they hold the root (ourselves included) */
  verified: number
  /** the largest floor we or a verified holder know of */
  knownFloor: number
  demandTarget: number
  /** we are the one holder that repairs this root's floor (see repair-leader.ts) */
  repairLeader: boolean
}

export type CountAction =
  | { action: 'nothing' }
  /** short of demand: every hot holder may recruit (placement spreads them) */
  | { action: 'recruit', reason: 'demand', copies: number, floor: number }
  /** short of the floor: only the repair leader recruits */
  | { action: 'repair', reason: 'floor', copies: number, floor: number }

/** Second step, once holders were counted: recruit for demand, repair the floor, or nothing */
export function planAfterCount (facts: CountFacts): CountAction {
  const target = Math.max(facts.demandTarget, facts.knownFloor)
  const missing = target - facts.verified
  if (missing <= 0) return { action: 'nothing' }
  if (facts.verified >= facts.knownFloor) return { action: 'recruit', reason: 'demand', copies: missing, floor: facts.knownFloor }
  if (!facts.repairLeader) return { action: 'nothing' }
  return { action: 'repair', reason: 'floor', copies: missing, floor: facts.knownFloor }
}

/** An idle floor copy may only go while more than the floor remain */
export function mayAgeOut (plan: RoundPlan['ageOut'], verified: number, floor: number): boolean {
  if (plan === 'drop') return true
  return plan === 'if-above-floor' && verified > floor
}
