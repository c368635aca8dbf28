import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { CROWD_LINGER_MS, CROWD_WINDOW_MS, CrowdSpreader, ON_ITS_WAY_MS, SPREAD_COPIES } from '../../../src/exchange/server/crowd-spreader.js'

describe('crowd spreading', () => {
  // the counting itself: every requester a member, no first blocks (see the proven-crowd tests below)
  const init = { minPeers: 3, copies: 2, patienceMs: 10_000, extraShare: 0.25, extraRefillMs: 10_000, firstBlocks: 0, provenOnly: false }

  it('never refers a lone downloader or a pair to a crowd', () => {
    const spreader = new CrowdSpreader(init)
    for (let i = 0; i < 10; i++) {
      expect(spreader.admit('a', 'block', 1000 + i)).toBe(true)
      expect(spreader.admit('b', 'block', 1000 + i)).toBe(true)
    }
  })

  it('sends each block at most `copies` times while a crowd asks at once', () => {
    const spreader = new CrowdSpreader(init)
    const peers = ['a', 'b', 'c', 'd', 'e', 'f']
    const admitted = peers.filter(p => spreader.admit(p, 'block', 5000))
    expect(admitted).toEqual(['a', 'b'])
    // another block still gets its own copies
    expect(spreader.admit('f', 'other', 5001)).toBe(true)
  })

  it('an invited peer (a replica we asked for) is never referred, and its copies count', () => {
    const spreader = new CrowdSpreader(init)
    spreader.invite('recruit', 60_000)
    for (const p of ['a', 'b', 'c']) spreader.admit(p, 'other', 0)
    expect(spreader.admit('a', 'block', 1)).toBe(true)
    expect(spreader.admit('b', 'block', 1)).toBe(true)
    expect(spreader.admit('recruit', 'block', 1)).toBe(true)
    expect(spreader.admit('recruit', 'block2', 1)).toBe(true)
    expect(spreader.admit('b', 'block2', 1)).toBe(true)
    expect(spreader.admit('c', 'block2', 1)).toBe(false)
    spreader.uninvite('recruit')
    expect(spreader.admit('recruit', 'block', 2)).toBe(false)
  })

  it('a block sent to every asker (a DAG node) is never refused, and its copies still count', () => {
    const spreader = new CrowdSpreader(init)
    const peers = ['a', 'b', 'c', 'd', 'e', 'f']
    expect(peers.filter(p => spreader.admit(p, 'root', 5000, true))).toEqual(peers)
    // counted: an asker of the same block without `always` is referred to those copies
    expect(spreader.admit('g', 'root', 5001)).toBe(false)
  })

  it('a copy that never left is given to the next asker', () => {
    const spreader = new CrowdSpreader(init)
    for (const p of ['a', 'b', 'c']) spreader.admit(p, 'x', 100)
    expect(spreader.admit('d', 'block', 100)).toBe(true)
    expect(spreader.admit('e', 'block', 100)).toBe(true)
    expect(spreader.admit('f', 'block', 100)).toBe(false)
    spreader.release('block')
    expect(spreader.admit('f', 'block', 101)).toBe(true)
  })

  it('a peer refused one block for the patience time gets it from us', () => {
    const spreader = new CrowdSpreader(init)
    const crowdAsks = (t: number): boolean => {
      spreader.admit('a', 'x', t)
      spreader.admit('b', 'y', t)
      return spreader.admit('c', 'block', t)
    }
    for (const p of ['a', 'b', 'c']) expect(spreader.admit(p, 'block', 0)).toBe(p !== 'c')
    // the wait only counts once a copy has left: before that the crowd cannot have the block
    for (let t = 1000; t <= init.patienceMs * 2; t += 1000) expect(crowdAsks(t)).toBe(false)
    const sentAt = init.patienceMs * 2
    spreader.sent('block', sentAt)
    for (let t = sentAt + 1000; t < sentAt + init.patienceMs; t += 1000) expect(crowdAsks(t)).toBe(false)
    expect(crowdAsks(sentAt + init.patienceMs)).toBe(true)
    expect(spreader.sentAfterWait).toBe(1)
  })

  it('extra copies come from a budget: a share of the blocks plus a slow refill', () => {
    const spreader = new CrowdSpreader({ ...init, patienceMs: 1000, extraShare: 0.5, extraRefillMs: 1_000_000 })
    // two blocks, both sent twice: a budget of 0.5 × 2 = 1 extra copy
    for (const p of ['a', 'b', 'c']) { spreader.admit(p, 'b1', 0); spreader.admit(p, 'b2', 0) }
    spreader.sent('b1', 0)
    spreader.sent('b2', 0)
    const late = 5000
    for (const p of ['d', 'e', 'f']) { spreader.admit(p, 'b1', late); spreader.admit(p, 'b2', late) }
    const granted = ['d', 'e', 'f'].flatMap(p => [spreader.admit(p, 'b1', late + 2000), spreader.admit(p, 'b2', late + 2000)]).filter(Boolean)
    expect(granted).toHaveLength(1)
    expect(spreader.sentAfterWait).toBe(1)
  })

  it('a dispersed crowd is served freely and the next one starts from fresh counts', () => {
    const spreader = new CrowdSpreader(init)
    for (const p of ['a', 'b', 'c']) spreader.admit(p, 'block', 0)
    expect(spreader.admit('d', 'block', 10)).toBe(false)
    // a lone asker is never referred, even while the crowd lingers
    expect(spreader.admit('d', 'block', CROWD_WINDOW_MS + 100)).toBe(true)
    // a pair within the linger time is still the crowd
    expect(spreader.admit('e', 'block', CROWD_WINDOW_MS + 200)).toBe(false)
    // long after, counts start again
    const later = CROWD_LINGER_MS * 3
    for (const p of ['x', 'y', 'z']) expect(spreader.admit(p, 'block', later)).toBe(p !== 'z')
  })

  it('property: in a crowd a block goes out at most `copies` times; a lone asker always gets it', () => {
    fc.assert(fc.property(
      fc.array(fc.record({ peer: fc.integer({ min: 0, max: 15 }), block: fc.integer({ min: 0, max: 3 }), dt: fc.integer({ min: 0, max: 12_000 }) }), { maxLength: 300 }),
      (requests) => {
        // no patience within the run, so only the copy limit applies
        const spreader = new CrowdSpreader({ ...init, patienceMs: 1e12 })
        const sent = new Map<number, number>()
        const recipients = new Map<number, Set<number>>()
        const lastAsked = new Map<number, number>()
        let now = 0
        let crowdOn = false
        let lastCrowdAt = 0
        for (const r of requests) {
          now += r.dt
          lastAsked.set(r.peer, now)
          const askers = [...lastAsked.values()].filter(at => now - at <= CROWD_WINDOW_MS).length
          const lingering = crowdOn && now - lastCrowdAt <= CROWD_LINGER_MS
          const inCrowd = askers >= init.minPeers || (askers >= 2 && lingering)
          if (inCrowd) {
            crowdOn = true
            lastCrowdAt = now
          } else if (crowdOn && !lingering) {
            crowdOn = false
            sent.clear()
            recipients.clear()
          }
          const admitted = spreader.admit(String(r.peer), String(r.block), now)
          // referred only to someone else that got the block from us
          const othersHold = [...(recipients.get(r.block) ?? [])].some(p => p !== r.peer)
          expect(admitted).toBe(!inCrowd || (sent.get(r.block) ?? 0) < init.copies || !othersHold)
          if (askers === 1) expect(admitted).toBe(true)
          if (admitted) {
            sent.set(r.block, (sent.get(r.block) ?? 0) + 1)
            recipients.set(r.block, (recipients.get(r.block) ?? new Set()).add(r.peer))
          }
        }
      }
    ))
  })

  describe('a crowd is made of peers proven to serve', () => {
    const proven = { minPeers: 3, copies: 2, patienceMs: 10_000, extraShare: 0.25, extraRefillMs: 10_000, firstBlocks: 2 }

    it('peers that only ask never make a crowd: everyone is served', () => {
      const spreader = new CrowdSpreader(proven)
      for (let t = 0; t < 20; t++) {
        for (const p of ['x', 'y', 'z', 'honest']) expect(spreader.admit(p, `b${t}`, t)).toBe(true)
      }
      expect(spreader.crowdSize(20)).toBe(0)
    })

    it('proven members make a crowd, but every peer gets its first blocks (the root) from us', () => {
      const spreader = new CrowdSpreader(proven)
      spreader.proven('a', 0)
      spreader.proven('b', 0)
      for (const p of ['a', 'b']) spreader.admit(p, 'root', 1)
      // a newcomer: its first blocks come from us although 'root' left twice already
      expect(spreader.admit('new', 'root', 2)).toBe(true)
      expect(spreader.admit('new', 'leaf1', 2)).toBe(true)
      for (const p of ['a', 'b']) spreader.admit(p, 'leaf2', 3)
      expect(spreader.admit('new', 'leaf2', 3)).toBe(false)
    })

    it('by default each block leaves us once in a crowd (super-seeding)', () => {
      expect(SPREAD_COPIES).toBe(1)
      const spreader = new CrowdSpreader({ firstBlocks: 0 })
      for (const p of ['a', 'b', 'c']) spreader.proven(p, 0)
      for (const p of ['a', 'b', 'c']) spreader.admit(p, 'warm-up', 1)
      expect(['a', 'b', 'c'].map(p => spreader.admit(p, 'block', 2))).toEqual([true, false, false])
    })

    // a copy still on its way to a peer not yet proven counts as held, within bounds
    it.each([
      { case: 'on its way', after: (s: CrowdSpreader) => s, at: 100, referred: true },
      { case: 'on its way too long', after: (s: CrowdSpreader) => s, at: ON_ITS_WAY_MS + 100, referred: false },
      { case: 'arrived, not proven', after: (s: CrowdSpreader) => { s.sent('block', 50, 'n', 1000); return s }, at: 100, referred: false },
      { case: 'arrived and proven', after: (s: CrowdSpreader) => { s.sent('block', 50, 'n', 1000); s.proven('n', 60); return s }, at: 100, referred: true },
      { case: 'never sent (released)', after: (s: CrowdSpreader) => { s.release('block', 'n'); return s }, at: 100, referred: false },
      {
        case: 'its last probe failed',
        after: (s: CrowdSpreader) => {
          s.admit('n', 'earlier', 0)
          s.sent('earlier', 0, 'n', 10)
          s.probeDue('n', 0)
          s.probeDone('n', 'failed', 1)
          return s
        },
        at: 100,
        referred: false
      }
    ])('a copy to an unproven peer: $case -> referred $referred', ({ after, at, referred }) => {
      const spreader = new CrowdSpreader({ ...proven, copies: 1, firstBlocks: 0 })
      // a, b members; n new and unproven asks first
      for (const p of ['a', 'b']) spreader.proven(p, 0)
      for (const p of ['a', 'b']) spreader.admit(p, 'warm-up', 0)
      expect(spreader.admit('n', 'block', 0)).toBe(true)
      after(spreader)
      // members keep asking so the crowd lasts
      for (const p of ['a', 'b']) { spreader.proven(p, at); spreader.admit(p, `w${at}`, at) }
      expect(spreader.admit('a', 'block', at)).toBe(!referred)
    })

    it('a probe asks back the smallest block we sent (the root), not a leaf', () => {
      const spreader = new CrowdSpreader(proven)
      for (const [block, bytes] of [['leaf1', 1 << 20], ['root', 300], ['leaf2', 1 << 20], ['leaf3', 1 << 20]] as const) {
        spreader.admit('p', block, 0)
        spreader.sent(block, 0, 'p', bytes)
      }
      expect(spreader.probeDue('p', 1)).toBe('root')
    })

    it('a probe of the root waits for a request after the root left: until then it could overtake it', () => {
      const spreader = new CrowdSpreader(proven)
      spreader.admit('p', 'root', 0)
      spreader.sent('root', 0, 'p', 300)
      expect(spreader.probeDue('p', 1)).toBeUndefined()
      spreader.asked('p', 2)
      expect(spreader.probeDue('p', 3)).toBe('root')
      // a smaller block sent later is the new one to ask back, after a request again
      spreader.probeDone('p', 'lacks', 4)
      spreader.admit('p', 'tail', 5)
      spreader.sent('tail', 5, 'p', 100)
      expect(spreader.probeDue('p', 5 + 2_000)).toBeUndefined()
      spreader.asked('p', 5 + 2_001)
      expect(spreader.probeDue('p', 5 + 2_002)).toBe('tail')
    })

    it('a probe on a request (maxBytes) asks back only a small block, never a leaf', () => {
      const spreader = new CrowdSpreader(proven)
      spreader.admit('p', 'leaf', 0)
      spreader.sent('leaf', 0, 'p', 1 << 20)
      spreader.asked('p', 1)
      expect(spreader.probeDue('p', 2, 64 * 1024)).toBeUndefined()
      expect(spreader.probeDue('p', 2)).toBe('leaf')
    })

    it('a probe is due once a peer had its first block, and a served probe makes it a member', () => {
      const spreader = new CrowdSpreader(proven)
      spreader.admit('p', 'b0', 0)
      expect(spreader.probeDue('p', 0)).toBeUndefined()
      spreader.sent('b0', 0, 'p')
      expect(spreader.probeDue('p', 1)).toBe('b0')
      spreader.probeDone('p', 'lacks', 2)
      for (let i = 1; i < 4; i++) {
        spreader.admit('p', `b${i}`, i)
        spreader.sent(`b${i}`, i, 'p')
      }
      expect(spreader.crowdSize(5)).toBe(0)
      // not sooner than the retry time; then the block before the last: the last may still be on its way
      expect(spreader.probeDue('p', 5)).toBeUndefined()
      expect(spreader.probeDue('p', 1 + 2_000)).toBe('b2')
      // one probe at a time
      expect(spreader.probeDue('p', 2_002)).toBeUndefined()
      spreader.probeDone('p', 'served', 2_003)
      expect(spreader.crowdSize(2_004)).toBe(1)
      // a failed probe is not retried at once, and the peer is no member
      for (let i = 0; i < 4; i++) { spreader.admit('q', `c${i}`, 2_010); spreader.sent(`c${i}`, 2_010, 'q') }
      expect(spreader.probeDue('q', 2_011)).toBe('c2')
      spreader.probeDone('q', 'failed', 2_012)
      expect(spreader.probeDue('q', 2_013)).toBeUndefined()
      expect(spreader.crowdSize(2_014)).toBe(1)
    })

    it('a block that went only to peers that do not serve is sent again', () => {
      const spreader = new CrowdSpreader({ ...proven, firstBlocks: 0 })
      for (const p of ['a', 'b']) spreader.proven(p, 0)
      for (const p of ['a', 'b', 'x', 'y']) spreader.admit(p, 'warm-up', 1)
      // x and y ask first: both copies go to them, and nobody could serve the block on
      expect(spreader.admit('x', 'block', 2)).toBe(true)
      spreader.sent('block', 2, 'x')
      expect(spreader.admit('y', 'block', 2)).toBe(true)
      spreader.sent('block', 2, 'y')
      expect(spreader.admit('a', 'block', 3)).toBe(true)
      // now a member holds it: the next asker is referred to a
      expect(spreader.admit('b', 'block', 4)).toBe(false)
    })

    it('many copies to peers that do not serve still leave room to remember a member', () => {
      const spreader = new CrowdSpreader({ ...proven, firstBlocks: 0 })
      for (const p of ['a', 'b']) spreader.proven(p, 0)
      const takers = Array.from({ length: 20 }, (_, i) => `taker${i}`)
      for (const p of ['a', 'b', ...takers]) spreader.admit(p, 'warm-up', 1)
      for (const p of takers) {
        expect(spreader.admit(p, 'block', 2)).toBe(true)
        spreader.sent('block', 2, p)
      }
      expect(spreader.admit('a', 'block', 3)).toBe(true)
      expect(spreader.admit('b', 'block', 4)).toBe(false)
    })
  })
})
