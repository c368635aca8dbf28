import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { QuietAnnouncer } from '../../src/sharing/quiet-announcer.js'

describe('QuietAnnouncer', () => {
  beforeEach(() => { vi.useFakeTimers() })
  afterEach(() => { vi.useRealTimers() })

  const make = (lastBusyAt?: () => number): { announced: string[], q: QuietAnnouncer<string> } => {
    const announced: string[] = []
    return { announced, q: new QuietAnnouncer<string>(key => { announced.push(key) }, { quietMs: 1_000, maxDeferMs: 10_000, lastBusyAt }) }
  }

  /** An announcer whose node sends a block every 500 ms, `blocks` times, when asked */
  const makeServing = (): { announced: string[], q: QuietAnnouncer<string>, sendBlocks: (blocks: number) => void } => {
    let lastBusyAt = 0
    const sendBlocks = (blocks: number): void => {
      for (let i = 0; i < blocks; i++) {
        vi.advanceTimersByTime(500)
        lastBusyAt = Date.now()
      }
    }
    return { ...make(() => lastBusyAt), sendBlocks }
  }

  it('announces once the quiet time passed without a get', () => {
    const { announced, q } = make()
    q.schedule('a')
    q.schedule('a')
    vi.advanceTimersByTime(999)
    expect(announced).toEqual([])
    vi.advanceTimersByTime(1)
    expect(announced).toEqual(['a'])
    expect(q.waiting).toBe(0)
  })

  it('waits while a get runs, and for the quiet time after it', () => {
    const { announced, q } = make()
    q.schedule('a')
    const end = q.busy()
    vi.advanceTimersByTime(5_000)
    expect(announced).toEqual([])
    end()
    end()
    vi.advanceTimersByTime(999)
    expect(announced).toEqual([])
    vi.advanceTimersByTime(1)
    expect(announced).toEqual(['a'])
  })

  it('waits while other work (our uploads) keeps the node busy, and for the quiet time after it', () => {
    const { announced, q, sendBlocks } = makeServing()
    q.schedule('a')
    // a block sent every 500 ms for 4 s
    sendBlocks(8)
    expect(announced).toEqual([])
    vi.advanceTimersByTime(999)
    expect(announced).toEqual([])
    vi.advanceTimersByTime(1)
    expect(announced).toEqual(['a'])
  })

  it('uploads that never stop hold it no longer than the max deferral', () => {
    const { announced, q, sendBlocks } = makeServing()
    q.schedule('a')
    sendBlocks(19)
    expect(announced).toEqual([])
    vi.advanceTimersByTime(500)
    expect(announced).toEqual(['a'])
  })

  it('gets back to back hold it no longer than the max deferral', () => {
    const { announced, q } = make()
    q.schedule('a')
    for (let i = 0; i < 20; i++) {
      const end = q.busy()
      vi.advanceTimersByTime(500)
      end()
    }
    expect(announced).toEqual(['a'])
  })

  it('under endless gets each key goes at its own max deadline, oldest first; asking again keeps its place', () => {
    const { announced, q } = make()
    q.busy()
    q.schedule('a')
    vi.advanceTimersByTime(4_000)
    q.schedule('b')
    q.schedule('a')
    vi.advanceTimersByTime(5_999)
    expect(announced).toEqual([])
    vi.advanceTimersByTime(1)
    expect(announced).toEqual(['a'])
    expect(q.waiting).toBe(1)
    vi.advanceTimersByTime(3_999)
    expect(announced).toEqual(['a'])
    vi.advanceTimersByTime(1)
    expect(announced).toEqual(['a', 'b'])
  })

  it('a stopped announcer drops what waits', () => {
    const { announced, q } = make()
    q.schedule('a')
    q.stop()
    vi.advanceTimersByTime(20_000)
    q.schedule('b')
    vi.advanceTimersByTime(20_000)
    expect(announced).toEqual([])
  })
})
