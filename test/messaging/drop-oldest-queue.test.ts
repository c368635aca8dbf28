import { describe, expect, it } from 'vitest'
import { DropOldestQueue } from '../../src/messaging/drop-oldest-queue.js'

describe('DropOldestQueue', () => {
  it('keeps the newest max items in order and counts the dropped ones', async () => {
    const cases: Array<{ max: number, pushed: number, kept: number[], dropped: number }> = [
      { max: 3, pushed: 2, kept: [0, 1], dropped: 0 },
      { max: 3, pushed: 3, kept: [0, 1, 2], dropped: 0 },
      { max: 3, pushed: 10, kept: [7, 8, 9], dropped: 7 },
      { max: 1, pushed: 5000, kept: [4999], dropped: 4999 }
    ]
    for (const { max, pushed, kept, dropped } of cases) {
      const queue = new DropOldestQueue<number>(max)
      for (let i = 0; i < pushed; i++) queue.push(i)
      expect(queue.size).toBe(kept.length)
      expect(queue.takeDropped()).toBe(dropped)
      expect(queue.takeDropped()).toBe(0)
      const out = []
      while (queue.size > 0) out.push(await queue.next())
      expect(out).toEqual(kept)
    }
  })

  it('a waiting reader wakes on push, and gets undefined once aborted', async () => {
    const queue = new DropOldestQueue<string>(2)
    const waiting = queue.next()
    queue.push('a')
    expect(await waiting).toBe('a')
    const controller = new AbortController()
    const parked = queue.next(controller.signal)
    controller.abort()
    expect(await parked).toBeUndefined()
  })
})
