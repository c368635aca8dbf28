import { Key, type Datastore } from 'interface-datastore'
import type { DirectMessage, FileRef } from './message.js'
import { conversationOrder, judgeSequence, type SequenceVerdict } from './sequence-policy.js'

export type MessageStatus = 'pending' | 'sent' | 'delivered' | 'read' | 'received'

export interface MessageRecord {
  id: string
  /** the other side of the conversation */
  peer: string
  direction: 'in' | 'out'
  from: string
  to: string
  seq: number
  sentAt: number
  /** when it reached our disk (incoming) */
  receivedAt?: number
  text: string
  file?: FileRef
  status: MessageStatus
  via?: 'direct' | 'mailbox'
  /** the author's signature, kept so a pending message can be retried as sent */
  sig: string
  /** incoming: when `msg ls` or `msg watch` first showed it */
  readAt?: number
  /** incoming: the sender acknowledged our read receipt */
  readReceipted?: boolean
}

const LOG = '/kizuna/msg/log'
const IN_SEQ = '/kizuna/msg/in-seq'
const HIGH = '/kizuna/msg/high'
const OUT_SEQ = '/kizuna/msg/out-seq'

import { decodeJson as decode, encodeJson as encode, getJson } from './datastore-json.js'

/**
 * Conversation history in the repo's datastore. An incoming message, its sequence slot and the
 * sender's high-water mark go in one batch (LevelDB writes a batch atomically), so after a kill -9
 * a message is either stored and known as seen, or neither — never shown twice.
 */
export class MessageStore {
  private readonly datastore: Datastore
  /** per-peer chains: judging and storing a sender's messages never interleave */
  private readonly chains = new Map<string, Promise<unknown>>()

  constructor (components: { datastore: Datastore }) {
    this.datastore = components.datastore
  }

  private async serial<T> (peer: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.chains.get(peer) ?? Promise.resolve()
    const next = previous.catch(() => {}).then(fn)
    this.chains.set(peer, next)
    try {
      return await next
    } finally {
      if (this.chains.get(peer) === next) this.chains.delete(peer)
    }
  }

  /** Reserves the next outgoing sequence number for `peer` (persisted before use) */
  async nextSeq (peer: string): Promise<number> {
    return this.serial(`out:${peer}`, async () => {
      const key = new Key(`${OUT_SEQ}/${peer}`)
      const last = await getJson<number>(this.datastore, key) ?? 0
      await this.datastore.put(key, encode(last + 1))
      return last + 1
    })
  }

  async saveOutgoing (message: DirectMessage, status: MessageStatus): Promise<MessageRecord> {
    const record: MessageRecord = { ...message, peer: message.to, direction: 'out', status }
    await this.datastore.put(logKey(message.to, message.id), encode(record))
    return record
  }

  /** Moves an outgoing message forward (pending → sent → delivered → read), never back */
  async setStatus (peer: string, id: string, status: MessageStatus, via?: 'direct' | 'mailbox'): Promise<MessageRecord | undefined> {
    return this.serial(`out:${peer}`, async () => {
      const record = await this.get(peer, id)
      if (record == null || record.direction !== 'out' || rank(status) <= rank(record.status)) return undefined
      record.status = status
      if (via != null) record.via = via
      else if (status === 'delivered' && record.via == null) record.via = 'direct'
      await this.datastore.put(logKey(peer, id), encode(record))
      return record
    })
  }

  /** Stores a verified incoming message unless it is a duplicate or from too far ahead */
  async receive (message: DirectMessage, via: 'direct' | 'mailbox'): Promise<{ verdict: SequenceVerdict, record?: MessageRecord }> {
    return this.serial(`in:${message.from}`, async () => {
      const highKey = new Key(`${HIGH}/${message.from}`)
      const high = await getJson<number>(this.datastore, highKey) ?? 0
      const stored = await this.datastore.has(new Key(`${IN_SEQ}/${message.from}/${pad(message.seq)}`)) ||
        await this.datastore.has(logKey(message.from, message.id))
      const verdict = judgeSequence(message.seq, high, stored)
      if (verdict !== 'new') return { verdict }
      const record: MessageRecord = { ...message, peer: message.from, direction: 'in', status: 'received', receivedAt: Date.now(), via }
      const batch = this.datastore.batch()
      batch.put(logKey(message.from, message.id), encode(record))
      batch.put(new Key(`${IN_SEQ}/${message.from}/${pad(message.seq)}`), encode(message.id))
      if (message.seq > high) batch.put(highKey, encode(message.seq))
      await batch.commit()
      return { verdict, record }
    })
  }

  /** Marks incoming messages as shown now (once); returns those that were not shown before */
  async markShown (records: MessageRecord[]): Promise<MessageRecord[]> {
    const changed: MessageRecord[] = []
    for (const shown of records) {
      if (shown.direction !== 'in' || shown.readAt != null) continue
      const record = await this.serial(`in:${shown.peer}`, async () => {
        const current = await this.get(shown.peer, shown.id)
        if (current == null || current.direction !== 'in' || current.readAt != null) return undefined
        current.readAt = Date.now()
        await this.datastore.put(logKey(shown.peer, shown.id), encode(current))
        return current
      })
      if (record != null) changed.push(record)
    }
    return changed
  }

  async markReadReceipted (peer: string, ids: string[]): Promise<void> {
    await this.serial(`in:${peer}`, async () => {
      for (const id of ids) {
        const record = await this.get(peer, id)
        if (record == null || record.direction !== 'in') continue
        record.readReceipted = true
        await this.datastore.put(logKey(peer, id), encode(record))
      }
    })
  }

  /** Shown incoming messages whose sender has not yet taken our read receipt */
  async readReceiptsDue (): Promise<MessageRecord[]> {
    return (await this.list()).filter(r => r.direction === 'in' && r.readAt != null && r.readReceipted !== true)
  }

  async get (peer: string, id: string): Promise<MessageRecord | undefined> {
    return getJson<MessageRecord>(this.datastore, logKey(peer, id))
  }

  /** History with one peer, or with everyone, in conversation order */
  async list (peer?: string): Promise<MessageRecord[]> {
    const records: MessageRecord[] = []
    for await (const { value } of this.datastore.query({ prefix: peer != null ? `${LOG}/${peer}` : LOG })) {
      records.push(decode<MessageRecord>(value))
    }
    return conversationOrder(records)
  }

  async pending (): Promise<MessageRecord[]> {
    return (await this.list()).filter(r => r.direction === 'out' && r.status === 'pending')
  }
}

/** The signed message inside a record, as it goes on the wire */
export function toMessage (r: MessageRecord): DirectMessage {
  return { id: r.id, from: r.from, to: r.to, seq: r.seq, sentAt: r.sentAt, text: r.text, ...(r.file != null ? { file: r.file } : {}), sig: r.sig }
}

function logKey (peer: string, id: string): Key {
  return new Key(`${LOG}/${peer}/${id}`)
}

function pad (seq: number): string {
  return String(seq).padStart(16, '0')
}

function rank (status: MessageStatus): number {
  return ['pending', 'sent', 'delivered', 'read'].indexOf(status)
}
