import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { DemandTracker } from '../../src/replication/demand.js'

describe('decaying demand', () => {
  it('estimates a steady request rate', () => {
    let now = 0
    const demand = new DemandTracker({ halfLifeMs: 60_000, now: () => now })
    // 30 requests per minute for 10 minutes
    for (let i = 0; i < 300; i++) {
      now += 2000
      demand.record('a')
    }
    expect(demand.ratePerMinute('a')).toBeGreaterThan(27)
    expect(demand.ratePerMinute('a')).toBeLessThan(33)
  })

  it('halves per half-life once requests stop, and forgets faded entries', () => {
    let now = 0
    const demand = new DemandTracker({ halfLifeMs: 1000, now: () => now })
    demand.record('a', 10)
    const start = demand.ratePerMinute('a')
    now += 1000
    expect(demand.ratePerMinute('a')).toBeCloseTo(start / 2, 6)
    now += 60_000
    expect(demand.list()).toEqual([])
    expect(demand.snapshot('a')).toBeUndefined()
  })

  it('is monotone: more requests never lower the rate', () => {
    fc.assert(fc.property(fc.array(fc.integer({ min: 0, max: 5000 }), { minLength: 1, maxLength: 50 }), gaps => {
      let now = 0
      const demand = new DemandTracker({ halfLifeMs: 10_000, now: () => now })
      for (const gap of gaps) {
        now += gap
        const before = demand.ratePerMinute('x')
        demand.record('x')
        expect(demand.ratePerMinute('x')).toBeGreaterThan(before)
      }
    }))
  })

  it('tracks at most maxEntries roots: faded ones go first, else the longest-tracked', () => {
    let now = 0
    const demand = new DemandTracker({ halfLifeMs: 1000, now: () => now, maxEntries: 100 })
    for (let i = 0; i < 100; i++) demand.record(`old${i}`)
    now += 60_000
    demand.record('hot')
    // the 100 faded entries were pruned to make room
    expect(demand.size).toBe(1)
    for (let i = 0; i < 10_000; i++) demand.record(`flood${i}`)
    expect(demand.size).toBe(100)
    expect(demand.ratePerMinute('flood9999')).toBeGreaterThan(0)
    expect(demand.ratePerMinute('hot')).toBe(0)
  })
})
