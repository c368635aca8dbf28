import { describe, expect, it } from 'vitest'
import { MemoryDatastore } from 'datastore-core'
import { MailboxHolder } from '../../src/messaging/mailbox-holder.js'
import { admitEnvelope, DEFAULT_MAILBOX_LIMITS, type MailboxLimits } from '../../src/messaging/mailbox-policy.js'
import type { Envelope } from '../../src/messaging/codec.js'

const NOW = 1_800_000_000_000
const DAY = 24 * 3600_000
const limits: MailboxLimits = { perRecipientEnvelopes: 5, perRecipientBytes: 1000, totalBytes: 2000, maxTtlMs: 7 * DAY, depositsPerMinute: 8 }
const env = (i: number, bytes = 100, expiresAt = NOW + DAY): Envelope => ({ id: i.toString(16).padStart(32, '0'), expiresAt, data: 'A'.repeat(bytes) })

describe('mailbox admission policy', () => {
  it.each([
    ['fits', 100, NOW + DAY, { recipientEnvelopes: 0, recipientBytes: 0, totalBytes: 0 }, { ok: true, expiresAt: NOW + DAY }],
    ['expiry clamped to 7 days', 100, NOW + 30 * DAY, { recipientEnvelopes: 0, recipientBytes: 0, totalBytes: 0 }, { ok: true, expiresAt: NOW + 7 * DAY }],
    ['already expired', 100, NOW, { recipientEnvelopes: 0, recipientBytes: 0, totalBytes: 0 }, { ok: false, code: 'ERR_EXPIRED' }],
    ['recipient count full', 100, NOW + DAY, { recipientEnvelopes: 5, recipientBytes: 0, totalBytes: 0 }, { ok: false, code: 'ERR_QUOTA_EXCEEDED' }],
    ['recipient bytes full', 100, NOW + DAY, { recipientEnvelopes: 1, recipientBytes: 950, totalBytes: 950 }, { ok: false, code: 'ERR_QUOTA_EXCEEDED' }],
    ['holder full', 100, NOW + DAY, { recipientEnvelopes: 0, recipientBytes: 0, totalBytes: 1950 }, { ok: false, code: 'ERR_QUOTA_EXCEEDED' }]
  ] as const)('%s', (_name, bytes, expiry, usage, expected) => {
    expect(admitEnvelope(bytes, expiry, NOW, usage, limits)).toMatchObject(expected)
  })

  it('defaults keep envelopes 7 days', () => {
    expect(DEFAULT_MAILBOX_LIMITS.maxTtlMs).toBe(7 * DAY)
  })
})

describe('mailbox holder', () => {
  it('a flooding sender hits its rate limit and the recipient quota; other senders and recipients are still served', async () => {
    const holder = new MailboxHolder({ datastore: new MemoryDatastore() }, limits)
    await holder.load()
    const flood = await holder.store('bob', Array.from({ length: 12 }, (_, i) => env(i)), 'mallory', NOW)
    expect(flood.accepted.length).toBe(5)
    expect(flood.refused.filter(r => r.code === 'ERR_QUOTA_EXCEEDED').length).toBe(3)
    expect(flood.refused.filter(r => r.code === 'ERR_RATE_LIMITED').length).toBe(4)
    const more = await holder.store('carol', [env(100)], 'mallory', NOW)
    expect(more.refused).toEqual([{ id: env(100).id, code: 'ERR_RATE_LIMITED' }])
    const honest = await holder.store('carol', [env(101)], 'alice', NOW)
    expect(honest.accepted).toEqual([env(101).id])
    expect(holder.stats()).toEqual({ recipients: 2, envelopes: 6, bytes: 600 })
  })

  it('fetch pages in id order, ack deletes and tombstones, expiry drops, and it all survives a reload', async () => {
    const datastore = new MemoryDatastore()
    const holder = new MailboxHolder({ datastore }, { ...limits, depositsPerMinute: 100 })
    await holder.load()
    await holder.store('bob', [env(3), env(1), env(2), env(4, 100, NOW + 10)], 'alice', NOW)
    const page = await holder.fetch('bob', undefined, 2)
    expect(page.envelopes.map(e => e.id)).toEqual([env(1).id, env(2).id])
    expect(page.more).toBe(true)
    expect((await holder.fetch('bob', env(2).id, 10)).envelopes.map(e => e.id)).toEqual([env(3).id, env(4).id])
    expect(await holder.ack('bob', [env(1).id])).toBe(1)
    expect((await holder.store('bob', [env(1)], 'replica-holder', NOW)).refused).toEqual([{ id: env(1).id, code: 'ERR_ALREADY_DELIVERED' }])
    expect(holder.missing('bob', [env(1).id, env(2).id, env(9).id])).toEqual([env(9).id])

    const reloaded = new MailboxHolder({ datastore }, limits)
    await reloaded.load()
    expect(reloaded.ids('bob').sort()).toEqual([env(2).id, env(3).id, env(4).id])
    expect(reloaded.missing('bob', [env(1).id])).toEqual([])
    expect(await reloaded.expire(NOW + 20)).toBe(1)
    expect(reloaded.ids('bob').sort()).toEqual([env(2).id, env(3).id])
  })
})
