import { describe, expect, it } from 'vitest'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import type { PeerId } from '@libp2p/interface'
import { MailboxHoldersCache } from '../../src/messaging/mailbox-holders-cache.js'

async function peers (n: number): Promise<PeerId[]> {
  return Promise.all(Array.from({ length: n }, async () => peerIdFromPrivateKey(await generateKeyPair('Ed25519'))))
}

describe('MailboxHoldersCache', () => {
  it('serves an entry until its TTL, forgets on request, and keeps at most `max` recipients', async () => {
    let now = 1_000
    const cache = new MailboxHoldersCache(100, 2, () => now)
    const holders = await peers(3)
    cache.set('bob', holders)
    const cases: Array<[string, () => void, string, number | undefined]> = [
      ['fresh', () => {}, 'bob', 3],
      ['at the TTL', () => { now = 1_100 }, 'bob', 3],
      ['past the TTL', () => { now = 1_101 }, 'bob', undefined],
      ['set again', () => { cache.set('bob', holders) }, 'bob', 3],
      ['forgotten', () => { cache.forget('bob') }, 'bob', undefined],
      ['least recently used of three dropped', () => { cache.set('a', holders); cache.set('b', holders); cache.set('c', holders) }, 'a', undefined],
      ['newest kept', () => {}, 'c', 3]
    ]
    for (const [name, step, recipient, expected] of cases) {
      step()
      expect(cache.get(recipient)?.length, name).toBe(expected)
    }
  })

  it('concurrent callers share one walk; the next call walks again', async () => {
    const cache = new MailboxHoldersCache()
    const found = await peers(1)
    let walks = 0
    const walk = async (): Promise<PeerId[]> => { walks++; await new Promise(resolve => setImmediate(resolve)); return found }
    const results = await Promise.all([cache.shared('bob', walk), cache.shared('bob', walk), cache.shared('bob', walk)])
    expect(walks).toBe(1)
    expect(results.every(r => r === found)).toBe(true)
    await cache.shared('bob', walk)
    expect(walks).toBe(2)
  })
})
