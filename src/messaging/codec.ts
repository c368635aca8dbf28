import { MessagingError } from './errors.js'
import { MAX_FILE_NAME_LENGTH, MAX_LINK_LENGTH, MAX_TEXT_BYTES, type DirectMessage } from './message.js'

export const MSG_PROTOCOL = '/kizuna/msg/1.0.0'
export const MAILBOX_PROTOCOL = '/kizuna/mailbox/1.0.0'
/** A direct-message frame: one signed message plus JSON overhead */
export const MAX_MSG_FRAME = 4 * MAX_TEXT_BYTES
/** A sealed envelope (ciphertext of one signed message) */
export const MAX_ENVELOPE_BYTES = 2 * MAX_MSG_FRAME
/** Envelopes per store or fetch frame, and ids per ack/have/want/receipts frame */
export const MAX_BATCH = 32
export const MAX_IDS = 512
/** A mailbox frame: a full batch of base64 envelopes */
export const MAX_MAILBOX_FRAME = Math.ceil(MAX_BATCH * MAX_ENVELOPE_BYTES * 4 / 3) + 64 * 1024

const ID_PATTERN = /^[0-9a-f]{32}$/
const PEER_PATTERN = /^[1-9A-HJ-NP-Za-km-z]{40,64}$/
const BASE64_PATTERN = /^[A-Za-z0-9+/]*={0,2}$/

export interface Envelope { id: string, expiresAt: number, data: string }

export type MsgFrame =
  | { type: 'deliver', message: DirectMessage }
  | { type: 'receipt', id: string, status: 'stored' | 'duplicate' }
  | { type: 'refused', id?: string, code: string, reason: string }
  | { type: 'receipts', ids: string[], status: 'delivered' | 'read', sig: string }
  | { type: 'receipts-ok' }

export type MailboxFrame =
  | { type: 'store', recipient: string, envelopes: Envelope[] }
  | { type: 'stored', accepted: string[], refused: Array<{ id: string, code: string }> }
  | { type: 'fetch', after?: string }
  | { type: 'envelopes', envelopes: Envelope[], more: boolean }
  | { type: 'ack', ids: string[] }
  | { type: 'acked', count: number }
  | { type: 'have', recipient: string, ids: string[] }
  | { type: 'want', ids: string[] }
  | { type: 'refused', code: string, reason: string }

function fail (message: string): never {
  throw new MessagingError('ERR_MALFORMED_MESSAGE', message)
}

function object (value: unknown, field: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) fail(`${field} must be an object`)
  return value as Record<string, unknown>
}

function str (value: unknown, field: string, max: number, pattern?: RegExp): string {
  if (typeof value !== 'string' || value.length > max || (pattern != null && !pattern.test(value))) fail(`${field} is not a valid string`)
  return value
}

function whole (value: unknown, field: string, min = 0): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) fail(`${field} must be a whole number ≥ ${min}`)
  return value
}

function ids (value: unknown, field: string): string[] {
  if (!Array.isArray(value) || value.length > MAX_IDS) fail(`${field} must be at most ${MAX_IDS} ids`)
  return value.map((id, i) => str(id, `${field}[${i}]`, 32, ID_PATTERN))
}

export function parseDirectMessage (value: unknown): DirectMessage {
  const m = object(value, 'message')
  const text = str(m.text, 'message.text', MAX_TEXT_BYTES)
  if (Buffer.byteLength(text, 'utf8') > MAX_TEXT_BYTES) fail('message.text is too long')
  const out: DirectMessage = {
    id: str(m.id, 'message.id', 32, ID_PATTERN),
    from: str(m.from, 'message.from', 64, PEER_PATTERN),
    to: str(m.to, 'message.to', 64, PEER_PATTERN),
    seq: whole(m.seq, 'message.seq', 1),
    sentAt: whole(m.sentAt, 'message.sentAt'),
    text,
    sig: str(m.sig, 'message.sig', 200, BASE64_PATTERN)
  }
  if (m.file !== undefined) {
    const f = object(m.file, 'message.file')
    out.file = { link: str(f.link, 'file.link', MAX_LINK_LENGTH), name: str(f.name, 'file.name', MAX_FILE_NAME_LENGTH), size: whole(f.size, 'file.size') }
  }
  return out
}

function envelope (value: unknown, field: string): Envelope {
  const e = object(value, field)
  const data = str(e.data, `${field}.data`, Math.ceil(MAX_ENVELOPE_BYTES * 4 / 3) + 4, BASE64_PATTERN)
  return { id: str(e.id, `${field}.id`, 32, ID_PATTERN), expiresAt: whole(e.expiresAt, `${field}.expiresAt`), data }
}

function envelopes (value: unknown, field: string): Envelope[] {
  if (!Array.isArray(value) || value.length > MAX_BATCH) fail(`${field} must hold at most ${MAX_BATCH} envelopes`)
  return value.map((e, i) => envelope(e, `${field}[${i}]`))
}

function parseJson (body: Uint8Array): Record<string, unknown> {
  let parsed: unknown
  try {
    parsed = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(body))
  } catch {
    fail('frame is not UTF-8 JSON')
  }
  return object(parsed, 'frame')
}

export function encodeFrame (frame: MsgFrame | MailboxFrame): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(frame))
}

export function decodeMsgFrame (body: Uint8Array): MsgFrame {
  if (body.length > MAX_MSG_FRAME) fail(`frame of ${body.length} bytes exceeds ${MAX_MSG_FRAME}`)
  const f = parseJson(body)
  switch (f.type) {
    case 'deliver': return { type: 'deliver', message: parseDirectMessage(f.message) }
    case 'receipt': {
      if (f.status !== 'stored' && f.status !== 'duplicate') fail('receipt.status must be stored or duplicate')
      return { type: 'receipt', id: str(f.id, 'receipt.id', 32, ID_PATTERN), status: f.status }
    }
    case 'refused': return { type: 'refused', id: f.id === undefined ? undefined : str(f.id, 'refused.id', 32, ID_PATTERN), code: str(f.code, 'refused.code', 64), reason: str(f.reason, 'refused.reason', 500) }
    case 'receipts': {
      if (f.status !== 'delivered' && f.status !== 'read') fail('receipts.status must be delivered or read')
      return { type: 'receipts', ids: ids(f.ids, 'receipts.ids'), status: f.status, sig: str(f.sig, 'receipts.sig', 200, BASE64_PATTERN) }
    }
    case 'receipts-ok': return { type: 'receipts-ok' }
    default: fail(`unknown frame type ${JSON.stringify(f.type)?.slice(0, 40)}`)
  }
}

export function decodeMailboxFrame (body: Uint8Array): MailboxFrame {
  if (body.length > MAX_MAILBOX_FRAME) fail(`frame of ${body.length} bytes exceeds ${MAX_MAILBOX_FRAME}`)
  const f = parseJson(body)
  switch (f.type) {
    case 'store': return { type: 'store', recipient: str(f.recipient, 'store.recipient', 64, PEER_PATTERN), envelopes: envelopes(f.envelopes, 'store.envelopes') }
    case 'stored': {
      if (!Array.isArray(f.refused) || f.refused.length > MAX_IDS) fail('stored.refused must be a short list')
      const refused = f.refused.map((r, i) => { const o = object(r, `refused[${i}]`); return { id: str(o.id, 'refused.id', 32, ID_PATTERN), code: str(o.code, 'refused.code', 64) } })
      return { type: 'stored', accepted: ids(f.accepted, 'stored.accepted'), refused }
    }
    case 'fetch': return { type: 'fetch', after: f.after === undefined ? undefined : str(f.after, 'fetch.after', 32, ID_PATTERN) }
    case 'envelopes': {
      if (typeof f.more !== 'boolean') fail('envelopes.more must be a boolean')
      return { type: 'envelopes', envelopes: envelopes(f.envelopes, 'envelopes.envelopes'), more: f.more }
    }
    case 'ack': return { type: 'ack', ids: ids(f.ids, 'ack.ids') }
    case 'acked': return { type: 'acked', count: whole(f.count, 'acked.count') }
    case 'have': return { type: 'have', recipient: str(f.recipient, 'have.recipient', 64, PEER_PATTERN), ids: ids(f.ids, 'have.ids') }
    case 'want': return { type: 'want', ids: ids(f.ids, 'want.ids') }
    case 'refused': return { type: 'refused', code: str(f.code, 'refused.code', 64), reason: str(f.reason, 'refused.reason', 500) }
    default: fail(`unknown frame type ${JSON.stringify(f.type)?.slice(0, 40)}`)
  }
}
