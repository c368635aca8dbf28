import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { Slots } from '../../src/util/slots.js'

describe('Slots', () => {
  it('hands out at most `size` at once and serves waiters first come, first served', async () => {
    const slots = new Slots(2)
    const a = await slots.take()
    const b = await slots.take()
    const order: string[] = []
    const c = slots.take().then(release => { order.push('c'); return release })
    const d = slots.take().then(release => { order.push('d'); return release })
    expect(slots.inUse).toBe(2)
    expect(slots.waiting).toBe(2)
    b()
    const releaseC = await c
    a()
    const releaseD = await d
    expect(order).toEqual(['c', 'd'])
    releaseC()
    releaseD()
    expect(slots.inUse).toBe(0)
  })

  it('a second release of the same slot changes nothing', async () => {
    const slots = new Slots(1)
    const release = await slots.take()
    release()
    release()
    expect(slots.inUse).toBe(0)
    await slots.take()
    expect(slots.inUse).toBe(1)
  })

  it('an aborted waiter leaves the queue with ERR_ABORTED and does not take a slot', async () => {
    const slots = new Slots(1)
    const release = await slots.take()
    const controller = new AbortController()
    const waiting = slots.take(controller.signal)
    controller.abort()
    await expect(waiting).rejects.toMatchObject({ code: 'ERR_ABORTED' })
    expect(slots.waiting).toBe(0)
    release()
    expect(slots.inUse).toBe(0)
    await expect(slots.take(controller.signal)).rejects.toThrow()
  })

  it('tryTake takes a free slot at once, and none while one is full or someone waits', async () => {
    const slots = new Slots(1)
    const held = slots.tryTake()
    expect(held).toBeDefined()
    expect(slots.tryTake()).toBeUndefined()
    const waiting = slots.take()
    held?.()
    // the released slot went to the waiter, not to a later tryTake
    expect(slots.tryTake()).toBeUndefined()
    ;(await waiting)()
    expect(slots.inUse).toBe(0)
    expect(slots.tryTake()).toBeDefined()
  })

  it('property: never more holders than size, and every taker is served once all release', async () => {
    await fc.assert(fc.asyncProperty(fc.integer({ min: 1, max: 4 }), fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 1, maxLength: 40 }), async (size, holds) => {
      const slots = new Slots(size)
      let holding = 0
      let most = 0
      await Promise.all(holds.map(async ticks => {
        const release = await slots.take()
        holding++
        most = Math.max(most, holding)
        for (let i = 0; i < ticks; i++) await Promise.resolve()
        holding--
        release()
      }))
      expect(most).toBeLessThanOrEqual(size)
      expect(slots.inUse).toBe(0)
    }))
  })
})
