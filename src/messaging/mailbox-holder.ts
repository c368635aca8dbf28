import { Key, type Datastore } from 'interface-datastore'
import { RateLimiter } from '@libp2p/utils'
import type { Envelope } from './codec.js'
import { admitEnvelope, type MailboxLimits } from './mailbox-policy.js'

const HELD = '/kizuna/mailbox/held'
const ACKED = '/kizuna/mailbox/acked'

interface Held { id: string, bytes: number, expiresAt: number }

import { decodeJson as decode, encodeJson as encode, getJson } from './datastore-json.js'

/**
 * Envelopes this node keeps for offline recipients. It cannot read them (they are sealed to the
 * recipient); it bounds them by quota, rate and expiry, and forgets an id its recipient acknowledged
 * (a tombstone until expiry stops other holders from handing it back).
 */
export class MailboxHolder {
  private readonly datastore: Datastore
  private readonly limits: MailboxLimits
  private readonly held = new Map<string, Map<string, Held>>()
  private readonly acked = new Map<string, number>()
  private totalBytes = 0
  private readonly rate: RateLimiter

  constructor (components: { datastore: Datastore }, limits: MailboxLimits) {
    this.datastore = components.datastore
    this.limits = limits
    this.rate = new RateLimiter({ points: limits.depositsPerMinute, duration: 60 })
  }

  /** Rebuilds the in-memory index from disk (quotas hold across restarts) */
  async load (): Promise<void> {
    this.held.clear()
    this.totalBytes = 0
    for await (const { key, value } of this.datastore.query({ prefix: HELD })) {
      const [recipient, id] = key.toString().slice(HELD.length + 1).split('/')
      const envelope = decode<Envelope>(value)
      this.index(recipient, { id, bytes: envelope.data.length, expiresAt: envelope.expiresAt })
    }
    for await (const { key, value } of this.datastore.query({ prefix: ACKED })) {
      this.acked.set(key.baseNamespace(), decode<number>(value))
    }
  }

  private index (recipient: string, entry: Held): void {
    const map = this.held.get(recipient) ?? new Map<string, Held>()
    map.set(entry.id, entry)
    this.held.set(recipient, map)
    this.totalBytes += entry.bytes
  }

  /** Stores what fits; `depositor` is the peer on the stream (rate-limited per peer) */
  async store (recipient: string, envelopes: Envelope[], depositor: string, now = Date.now()): Promise<{ accepted: string[], refused: Array<{ id: string, code: string }> }> {
    const accepted: string[] = []
    const refused: Array<{ id: string, code: string }> = []
    for (const envelope of envelopes) {
      const mine = this.held.get(recipient)
      if (mine?.has(envelope.id) === true) { accepted.push(envelope.id); continue }
      if (this.acked.has(envelope.id)) { refused.push({ id: envelope.id, code: 'ERR_ALREADY_DELIVERED' }); continue }
      try {
        this.rate.consume(depositor)
      } catch {
        refused.push({ id: envelope.id, code: 'ERR_RATE_LIMITED' })
        continue
      }
      const bytes = envelope.data.length
      let recipientBytes = 0
      for (const h of mine?.values() ?? []) recipientBytes += h.bytes
      const admission = admitEnvelope(bytes, envelope.expiresAt, now, { recipientEnvelopes: mine?.size ?? 0, recipientBytes, totalBytes: this.totalBytes }, this.limits)
      if (!admission.ok) { refused.push({ id: envelope.id, code: admission.code }); continue }
      const kept: Envelope = { id: envelope.id, expiresAt: admission.expiresAt, data: envelope.data }
      await this.datastore.put(new Key(`${HELD}/${recipient}/${envelope.id}`), encode(kept))
      this.index(recipient, { id: envelope.id, bytes, expiresAt: admission.expiresAt })
      accepted.push(envelope.id)
    }
    return { accepted, refused }
  }

  /** Up to `limit` envelopes for `recipient` with ids after `after`, in id order */
  async fetch (recipient: string, after: string | undefined, limit: number): Promise<{ envelopes: Envelope[], more: boolean }> {
    const ids = [...(this.held.get(recipient)?.keys() ?? [])].filter(id => after === undefined || id > after).sort()
    const envelopes: Envelope[] = []
    for (const id of ids.slice(0, limit)) {
      const envelope = await getJson<Envelope>(this.datastore, new Key(`${HELD}/${recipient}/${id}`))
      if (envelope != null) envelopes.push(envelope)
    }
    return { envelopes, more: ids.length > limit }
  }

  /** The envelopes with these ids that we still hold */
  async fetchIds (recipient: string, ids: string[]): Promise<Envelope[]> {
    const out: Envelope[] = []
    for (const id of ids) {
      if (this.held.get(recipient)?.has(id) !== true) continue
      const envelope = await getJson<Envelope>(this.datastore, new Key(`${HELD}/${recipient}/${id}`))
      if (envelope != null) out.push(envelope)
    }
    return out
  }

  /** The recipient received these: delete them and remember the ids until they would have expired */
  async ack (recipient: string, ids: string[], now = Date.now()): Promise<number> {
    let count = 0
    const mine = this.held.get(recipient)
    for (const id of ids) {
      const entry = mine?.get(id)
      const until = entry?.expiresAt ?? now + this.limits.maxTtlMs
      if (!this.acked.has(id)) {
        this.acked.set(id, until)
        await this.datastore.put(new Key(`${ACKED}/${id}`), encode(until))
      }
      if (entry != null) {
        await this.remove(recipient, entry)
        count++
      }
    }
    return count
  }

  private async remove (recipient: string, entry: Held): Promise<void> {
    await this.datastore.delete(new Key(`${HELD}/${recipient}/${entry.id}`))
    const mine = this.held.get(recipient)
    if (mine?.delete(entry.id) === true) this.totalBytes -= entry.bytes
    if (mine?.size === 0) this.held.delete(recipient)
  }

  /** Drops expired envelopes and tombstones; returns how many envelopes went */
  async expire (now = Date.now()): Promise<number> {
    let dropped = 0
    for (const [recipient, mine] of [...this.held]) {
      for (const entry of [...mine.values()]) {
        if (entry.expiresAt <= now) { await this.remove(recipient, entry); dropped++ }
      }
    }
    for (const [id, until] of [...this.acked]) {
      if (until <= now) { this.acked.delete(id); await this.datastore.delete(new Key(`${ACKED}/${id}`)) }
    }
    return dropped
  }

  recipients (): string[] {
    return [...this.held.keys()]
  }

  ids (recipient: string): string[] {
    return [...(this.held.get(recipient)?.keys() ?? [])]
  }

  /** ids of `offered` we neither hold nor know as delivered */
  missing (recipient: string, offered: string[]): string[] {
    const mine = this.held.get(recipient)
    return offered.filter(id => mine?.has(id) !== true && !this.acked.has(id))
  }

  stats (): { recipients: number, envelopes: number, bytes: number } {
    let envelopes = 0
    for (const mine of this.held.values()) envelopes += mine.size
    return { recipients: this.held.size, envelopes, bytes: this.totalBytes }
  }
}
