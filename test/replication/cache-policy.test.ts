import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { cacheValue, planEviction, type CacheCandidate } from '../../src/replication/cache-policy.js'

const now = 10_000_000

describe('cache eviction plan', () => {
  it('drops cold, large copies before hot, small ones', () => {
    const candidates: CacheCandidate[] = [
      { cid: 'hot', size: 10, lastAccess: now, ratePerMinute: 50 },
      { cid: 'cold-big', size: 100, lastAccess: now - 3_600_000, ratePerMinute: 0 },
      { cid: 'warm', size: 50, lastAccess: now - 60_000, ratePerMinute: 2 }
    ]
    const plan = planEviction(candidates, 160, 200, { size: 100 }, now)
    expect(plan?.evict.map(c => c.cid)).toEqual(['cold-big'])
  })

  it('declines what cannot fit, and keeps copies worth more than the offer', () => {
    const candidates: CacheCandidate[] = [{ cid: 'a', size: 100, lastAccess: now, ratePerMinute: 100 }]
    expect(planEviction(candidates, 100, 150, { size: 200 }, now)).toBeUndefined()
    expect(planEviction(candidates, 100, 150, { size: 100, value: 0 }, now)).toBeUndefined()
    expect(planEviction(candidates, 100, 150, { size: 100 }, now)?.evict.length).toBe(1)
  })

  it('any plan it returns brings usage within the quota', () => {
    fc.assert(fc.property(
      fc.array(fc.record({ size: fc.integer({ min: 1, max: 1000 }), age: fc.integer({ min: 0, max: 10_000_000 }), rate: fc.double({ min: 0, max: 100, noNaN: true }) }), { maxLength: 30 }),
      fc.integer({ min: 1, max: 20_000 }),
      fc.integer({ min: 0, max: 3000 }),
      (items, quota, incoming) => {
        const candidates = items.map((item, i) => ({ cid: String(i), size: item.size, lastAccess: now - item.age, ratePerMinute: item.rate }))
        const used = candidates.reduce((sum, c) => sum + c.size, 0)
        const plan = planEviction(candidates, used, quota, { size: incoming }, now)
        if (plan != null) {
          expect(used - plan.freedBytes + incoming).toBeLessThanOrEqual(quota)
          const values = plan.evict.map(c => cacheValue(c, now))
          expect([...values].sort((a, b) => a - b)).toEqual(values)
        } else {
          // with every candidate evictable, only an offer bigger than the whole quota can fail
          expect(incoming).toBeGreaterThan(quota)
        }
      }
    ))
  })
})
