import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { choosePlacement, compareDistance, kadKey } from '../../src/replication/placement.js'

describe('replica placement', () => {
  it('picks distinct candidates, the closest in XOR distance first', async () => {
    await fc.assert(fc.asyncProperty(fc.uint8Array({ minLength: 1, maxLength: 16 }), fc.integer({ min: 0, max: 40 }), fc.integer({ min: 0, max: 10 }), async (seed, n, count) => {
      const root = CID.createV1(raw.code, await sha256.digest(seed))
      const candidates = Array.from({ length: n }, (_, i) => ({ peerId: `p${i}`, key: new Uint8Array([i, seed[0]]) }))
      const chosen = await choosePlacement(root, candidates, count, () => 0.5)
      expect(chosen.length).toBe(Math.min(count, n))
      expect(new Set(chosen).size).toBe(chosen.length)
      if (chosen.length > 0) {
        // the very closest candidate is always among the chosen
        const target = await kadKey(root.multihash.bytes)
        const keyed = await Promise.all(candidates.map(async c => ({ id: c.peerId, key: await kadKey(c.key) })))
        keyed.sort((a, b) => compareDistance(a.key, b.key, target))
        expect(chosen[0]).toBe(keyed[0].id)
      }
    }), { numRuns: 50 })
  })
})
