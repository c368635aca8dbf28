import { internalsOf } from '../../src/node/internals.js'
import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Testnet, type TestnetMember } from '../../src/testnet/testnet.js'
import { anyFileContains } from '../helpers/disk.js'
import { waitFor } from '../helpers/wait.js'

function holding (members: TestnetMember[], recipient: string): TestnetMember[] {
  return members.filter(m => m.node?.isStarted() === true && internalsOf(m.node!).messaging.mailbox.holder.ids(recipient).length > 0)
}

describe('offline delivery through the mailbox (k = 3 holders)', () => {
  let testnet: Testnet

  beforeAll(async () => {
    testnet = await Testnet.start({ size: 7, mode: 'in-process', bootstrap: 'random' })
  })

  afterAll(async () => {
    await testnet?.stop()
  })

  it('B offline: sealed envelopes at 3 holders with no plaintext, a holder dies and is replaced, B returns and gets them in order once', async () => {
    const [alice, ...rest] = testnet.members
    const bob = rest[rest.length - 1]
    const a = alice.node!
    await a.contactAdd('bob', bob.peerId)
    // Bob rejoins from his saved peers (no bootstrap): he must know 2, so that one holder dying
    // below leaves him a way back (a node whose only known peer died cannot return without a bootstrap)
    const bobLibp2p = internalsOf(bob.node!).libp2p
    const bobKnows = await waitFor(async () => {
      const known = (await bobLibp2p.peerStore.all({ filters: [p => p.addresses.length > 0] })).map(p => p.id.toString())
      return known.length >= 2 ? new Set(known) : undefined
    }, { timeoutMs: 30_000, message: 'Bob to know 2 peers' })
    await testnet.stopMember(bob)

    const marker = randomBytes(12).toString('hex')
    const texts = [`first ${marker}`, `second ${marker}`, `third ${marker}`]
    for (const text of texts) {
      const sent = await a.sendMessage('bob', text)
      expect(sent.status).toBe('sent')
      expect(sent.via).toBe('mailbox')
    }
    const holders = holding(testnet.members, bob.peerId)
    expect(holders.length).toBeGreaterThanOrEqual(3)
    // each message at 3 holders (each send picks the 3 closest it sees then: on a loaded box a
    // lookup cut short by its bound may pick another third holder for one message)
    const copies = new Map<string, number>()
    for (const holder of holders) {
      for (const id of internalsOf(holder.node!).messaging.mailbox.holder.ids(bob.peerId)) copies.set(id, (copies.get(id) ?? 0) + 1)
      if (holder !== alice) expect(await anyFileContains(holder.repo, Buffer.from(marker))).toBe(false)
    }
    expect(copies.size).toBe(3)
    for (const count of copies.values()) expect(count).toBeGreaterThanOrEqual(3)

    // a holder (not Alice) leaves: the others bring the mailbox back to 3 live copies
    const victim = holders.find(h => h !== alice && !bobKnows.has(h.peerId)) ?? holders.find(h => h !== alice)!
    await testnet.stopMember(victim)
    await waitFor(() => holding(testnet.members, bob.peerId).length >= 3, { timeoutMs: 30_000, message: '3 live holders again' })

    // Bob comes back (own repo, saved peers, no bootstrap): drains on join, in Alice's order
    const back = await testnet.restart(bob)
    const b = back.node!
    // the drain on join alone must bring them: no manual drain here
    const backAt = Date.now()
    const got = await waitFor(async () => {
      const list = await b.messages(alice.peerId)
      return list.length >= 3 ? list : undefined
    }, { timeoutMs: 30_000, intervalMs: 200, message: 'the 3 messages at Bob through the drain on join' })
    console.log(`mailbox: Bob had the 3 messages ${Date.now() - backAt} ms after his restart (drain on join)`)
    expect(got.map(m => m.text)).toEqual(texts)
    expect(got.map(m => m.seq)).toEqual([1, 2, 3])
    expect(got.every(m => m.via === 'mailbox')).toBe(true)

    // receipts reach Alice (read: Bob's ls above showed them); holders delete what Bob acknowledged; a second drain adds nothing
    await waitFor(async () => (await a.messages('bob')).every(m => m.status === 'read'), { timeoutMs: 20_000, message: 'read at Alice' })
    await waitFor(() => holding(testnet.members, bob.peerId).length === 0, { timeoutMs: 20_000, message: 'holders to delete acked envelopes' })
    expect(await b.drainMailbox()).toBe(0)
    expect((await b.messages(alice.peerId)).length).toBe(3)
  }, 150_000)
})
