import { describe, expect, it } from 'vitest'
import { PARTIAL_ANNOUNCEMENT_COVERS_MS, PartialAnnouncements } from '../../src/sharing/partial-announcements.js'

describe('a partial announcement stands in for the done one', () => {
  it('covers exactly one done announcement of the same root', () => {
    const a = new PartialAnnouncements()
    a.announced('root-a', 1_000)
    expect(a.covers('root-b', 2_000)).toBe(false)
    expect(a.covers('root-a', 2_000)).toBe(true)
    // the next fetch of it (after an rm, say) announces again
    expect(a.covers('root-a', 3_000)).toBe(false)
  })

  it('covers nothing once it is old, or when it failed', () => {
    const a = new PartialAnnouncements()
    a.announced('old', 0)
    expect(a.covers('old', PARTIAL_ANNOUNCEMENT_COVERS_MS + 1)).toBe(false)
    a.announced('failed', 0)
    a.forget('failed')
    expect(a.covers('failed', 1)).toBe(false)
  })

  it('stays bounded: the oldest are forgotten first', () => {
    const a = new PartialAnnouncements()
    for (let i = 0; i < 5_000; i++) a.announced(`r${i}`, i)
    expect(a.covers('r0', 5_000)).toBe(false)
    expect(a.covers('r4999', 5_000)).toBe(true)
  })
})
