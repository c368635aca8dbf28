import { describe, expect, it } from 'vitest'
import { createHash } from 'node:crypto'
import { demandTarget, mayAgeOut, planAfterCount, planRoot, type PlannerPolicy, type RootFacts } from '../../src/replication/round-planner.js'
import { repairLeader } from '../../src/replication/repair-leader.js'
import { compareDistance } from '../../src/replication/placement.js'
import { DEMAND_RECOUNT_ROUNDS, FLOOR_RECHECK_ROUNDS, FRESH_COPY_QUIET_MS, RECRUIT_COOLDOWN_ROUNDS } from '../../src/replication/constants.js'

const ROUND = 1_000
const policy: PlannerPolicy = { hotRatePerMinute: 6, maxDemandReplicas: 8, checkIntervalMs: ROUND, cacheIdleMs: 60_000 }
/** A pinned root nobody asks for, counted one round ago, never recruited for */
const quiet: RootFacts = { kind: 'pinned', floor: 0, ratePerMinute: 0, ageMs: 3_600_000, idleMs: 0, fetching: false, sinceCountMs: ROUND, lastVerified: 0, sinceRecruitMs: Infinity, forceCount: false }
const facts = (over: Partial<RootFacts>): RootFacts => ({ ...quiet, ...over })

describe('round planner: what to do with one root this round', () => {
  it.each<[string, Partial<RootFacts>, ReturnType<typeof planRoot>]>([
    ['nothing for a quiet pinned root', {}, { demandTarget: 0 }],
    ['counts a floor never counted', { floor: 3, sinceCountMs: Infinity }, { count: 'floor', demandTarget: 0 }],
    ['counts a floor short at the last count', { floor: 3, lastVerified: 2 }, { count: 'floor', demandTarget: 0 }],
    ['trusts a met floor counted lately', { floor: 3, lastVerified: 3, sinceCountMs: (FLOOR_RECHECK_ROUNDS - 1) * ROUND }, { demandTarget: 0 }],
    ['recounts a met floor once the count is stale', { floor: 3, lastVerified: 3, sinceCountMs: FLOOR_RECHECK_ROUNDS * ROUND }, { count: 'floor', demandTarget: 0 }],
    ['recounts a met floor when forced (a peer was evicted)', { floor: 3, lastVerified: 3, forceCount: true }, { count: 'floor', demandTarget: 0 }],
    ['waits out the cooldown after recruiting', { floor: 3, lastVerified: 1, sinceRecruitMs: (RECRUIT_COOLDOWN_ROUNDS - 1) * ROUND }, { demandTarget: 0 }],
    ['counts a hot root short of demand once the recount is due', { ratePerMinute: 12, sinceCountMs: DEMAND_RECOUNT_ROUNDS * ROUND, lastVerified: 1 }, { count: 'demand', demandTarget: 3 }],
    ['a hot root short of demand waits DEMAND_RECOUNT_ROUNDS', { ratePerMinute: 12, sinceCountMs: (DEMAND_RECOUNT_ROUNDS - 1) * ROUND, lastVerified: 1 }, { demandTarget: 3 }],
    ['a hot root whose demand was met trusts its count', { ratePerMinute: 12, sinceCountMs: DEMAND_RECOUNT_ROUNDS * ROUND, lastVerified: 3 }, { demandTarget: 3 }],
    ['a floor count wins the reason when both are due', { ratePerMinute: 12, floor: 4, sinceCountMs: Infinity }, { count: 'floor', demandTarget: 3 }],
    ['a fresh cached copy leaves demand counts to older copies', { kind: 'cached', ratePerMinute: 60, ageMs: FRESH_COPY_QUIET_MS - 1, sinceCountMs: Infinity }, { demandTarget: 8 }],
    ['an older cached copy counts for demand', { kind: 'cached', ratePerMinute: 60, ageMs: FRESH_COPY_QUIET_MS, sinceCountMs: Infinity }, { count: 'demand', demandTarget: 8 }],
    ['ages out an idle cached copy', { kind: 'cached', idleMs: 60_000 }, { ageOut: 'drop', demandTarget: 0 }],
    ['keeps a cached copy used lately', { kind: 'cached', idleMs: 59_999 }, { demandTarget: 0 }],
    ['keeps an idle cached copy still hot', { kind: 'cached', idleMs: 60_000, ratePerMinute: 6, sinceCountMs: 0, lastVerified: 8 }, { demandTarget: 2 }],
    ['keeps an idle cached copy still being fetched', { kind: 'cached', idleMs: 60_000, fetching: true }, { demandTarget: 0 }],
    ['an idle floor copy goes only if above the floor', { kind: 'cached', idleMs: 60_000, floor: 2, lastVerified: 2 }, { ageOut: 'if-above-floor', demandTarget: 0 }],
    ['never ages out pinned content', { idleMs: 10 * 60_000 }, { demandTarget: 0 }]
  ])('%s', (_name, over, expected) => {
    expect(planRoot(facts(over), policy)).toEqual(expected)
  })

  it.each([[0, 0], [5.9, 0], [6, 2], [12, 3], [13, 4], [1_000, 8]])('demand of %d/min wants %d copies', (rate, copies) => {
    expect(demandTarget(rate, policy)).toBe(copies)
  })
})

describe('round planner: after a count', () => {
  it.each<[string, Parameters<typeof planAfterCount>[0], ReturnType<typeof planAfterCount>]>([
    ['nothing when the floor and demand are met', { verified: 3, knownFloor: 3, demandTarget: 2, repairLeader: true }, { action: 'nothing' }],
    ['recruits the demand shortfall', { verified: 2, knownFloor: 0, demandTarget: 5, repairLeader: false }, { action: 'recruit', reason: 'demand', copies: 3, floor: 0 }],
    ['recruits for demand above a met floor, without leadership', { verified: 3, knownFloor: 3, demandTarget: 5, repairLeader: false }, { action: 'recruit', reason: 'demand', copies: 2, floor: 3 }],
    ['the repair leader repairs a short floor', { verified: 2, knownFloor: 5, demandTarget: 0, repairLeader: true }, { action: 'repair', reason: 'floor', copies: 3, floor: 5 }],
    ['another holder leaves a short floor to the leader', { verified: 2, knownFloor: 5, demandTarget: 0, repairLeader: false }, { action: 'nothing' }],
    ['a repair fills the larger of floor and demand', { verified: 1, knownFloor: 2, demandTarget: 4, repairLeader: true }, { action: 'repair', reason: 'floor', copies: 3, floor: 2 }]
  ])('%s', (_name, input, expected) => {
    expect(planAfterCount(input)).toEqual(expected)
  })

  it.each<[RootFactsAgeOut, number, number, boolean]>([
    ['drop', 0, 0, true],
    ['if-above-floor', 3, 2, true],
    ['if-above-floor', 2, 2, false],
    [undefined, 9, 0, false]
  ])('age out %s with %d verified over floor %d: %s', (plan, verified, floor, expected) => {
    expect(mayAgeOut(plan, verified, floor)).toBe(expected)
  })
})

type RootFactsAgeOut = ReturnType<typeof planRoot>['ageOut']

describe('repair leader', () => {
  const key = (name: string): Uint8Array => new Uint8Array(Buffer.from(name))
  const root = key('root')
  const distanceOrder = (names: string[]): string[] => {
    const target = createHash('sha256').update(root).digest()
    return [...names].sort((a, b) => compareDistance(createHash('sha256').update(key(a)).digest(), createHash('sha256').update(key(b)).digest(), target))
  }
  const holder = (name: string, floor?: number, verified = true): { peerId: string, key: Uint8Array, floor?: number, verified: boolean } => ({ peerId: name, key: key(name), floor, verified })

  it('is the verified holder closest to the CID among those that know the floor', () => {
    const names = ['a', 'b', 'c', 'd', 'e']
    const [closest, second] = distanceOrder(names)
    expect(repairLeader(root, names.map(n => holder(n, 3)), 'e')).toBe(closest)
    // a copy that never heard of the floor cannot lead, however close
    expect(repairLeader(root, names.map(n => holder(n, n === closest ? 0 : 3)), 'e')).toBe(second)
    // nor can one that did not prove it holds the content
    expect(repairLeader(root, names.map(n => holder(n, 3, n !== closest)), 'e')).toBe(second)
  })

  it('counts ourselves even before we learn the floor from others', () => {
    const [closest] = distanceOrder(['me', 'x'])
    expect(repairLeader(root, [holder('me'), holder('x', 2)], 'me')).toBe(closest)
    expect(repairLeader(root, [holder('me', undefined, false)], 'me')).toBeUndefined()
  })
})
