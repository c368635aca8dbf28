import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { conversationOrder, judgeSequence, MAX_SEQUENCE_AHEAD } from '../../src/messaging/sequence-policy.js'

describe('sequence policy', () => {
  it.each([
    [1, 0, false, 'new'],
    [5, 3, false, 'new'],
    [2, 9, false, 'new'],
    [4, 3, true, 'duplicate'],
    [MAX_SEQUENCE_AHEAD, 0, false, 'new'],
    [MAX_SEQUENCE_AHEAD + 1, 0, false, 'future'],
    [MAX_SEQUENCE_AHEAD + 11, 10, false, 'future']
  ] as const)('seq %i after high %i (stored %s) is %s', (seq, high, stored, verdict) => {
    expect(judgeSequence(seq, high, stored)).toBe(verdict)
  })

  it('property: each sender in its sequence order, whatever the arrival order', () => {
    fc.assert(fc.property(fc.array(fc.record({ direction: fc.constantFrom('in' as const, 'out' as const), peer: fc.constantFrom('a', 'b'), sentAt: fc.integer({ min: 0, max: 100 }) }), { maxLength: 40 }), input => {
      const counters = new Map<string, number>()
      const records = input.map(r => {
        const key = `${r.direction}:${r.peer}`
        const seq = (counters.get(key) ?? 0) + 1
        counters.set(key, seq)
        return { ...r, seq }
      })
      const shuffled = [...records].sort(() => Math.random() - 0.5)
      const ordered = conversationOrder(shuffled)
      expect(ordered.length).toBe(records.length)
      for (const key of counters.keys()) {
        const seqs = ordered.filter(r => `${r.direction}:${r.peer}` === key).map(r => r.seq)
        expect(seqs).toEqual([...seqs].sort((x, y) => x - y))
      }
    }))
  })
})
