import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { MAX_BATCH, MAX_MSG_FRAME, decodeMailboxFrame, decodeMsgFrame, encodeFrame, type Envelope, type MailboxFrame, type MsgFrame } from '../../src/messaging/codec.js'
import { MAX_TEXT_BYTES, newMessageId, signMessage, verifyMessage, type DirectMessage } from '../../src/messaging/message.js'
import { codeOf } from '../helpers/code-of.js'

const key = await generateKeyPair('Ed25519')
const other = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
const self = peerIdFromPrivateKey(key).toString()

async function message (text: string, seq = 1, file?: DirectMessage['file']): Promise<DirectMessage> {
  return signMessage({ id: newMessageId(), from: self, to: other, seq, sentAt: 1_700_000_000_000, text, ...(file != null ? { file } : {}) }, key)
}

const envelope = (i: number): Envelope => ({ id: i.toString(16).padStart(32, '0'), expiresAt: 1_800_000_000_000, data: Buffer.from(`sealed ${i}`).toString('base64') })

describe('messaging codec', () => {
  it('round-trips every direct-message frame', async () => {
    const frames: MsgFrame[] = [
      { type: 'deliver', message: await message('hello', 1, { link: 'kizuna://bafy', name: 'a.jpg', size: 10 }) },
      { type: 'receipt', id: newMessageId(), status: 'stored' },
      { type: 'refused', id: newMessageId(), code: 'ERR_BAD_SIGNATURE', reason: 'no' },
      { type: 'receipts', ids: [newMessageId(), newMessageId()], status: 'delivered', sig: 'c2ln' },
      { type: 'receipts', ids: [newMessageId()], status: 'read', sig: 'c2ln' },
      { type: 'receipts-ok' }
    ]
    for (const frame of frames) expect(decodeMsgFrame(encodeFrame(frame))).toEqual(frame)
  })

  it('round-trips every mailbox frame', () => {
    const frames: MailboxFrame[] = [
      { type: 'store', recipient: other, envelopes: [envelope(1), envelope(2)] },
      { type: 'stored', accepted: [envelope(1).id], refused: [{ id: envelope(2).id, code: 'ERR_QUOTA_EXCEEDED' }] },
      { type: 'fetch', after: envelope(1).id },
      { type: 'fetch' },
      { type: 'envelopes', envelopes: [envelope(3)], more: true },
      { type: 'ack', ids: [envelope(3).id] },
      { type: 'acked', count: 1 },
      { type: 'have', recipient: other, ids: [envelope(4).id] },
      { type: 'want', ids: [] },
      { type: 'refused', code: 'ERR_RATE_LIMITED', reason: 'slow down' }
    ]
    for (const frame of frames) expect(decodeMailboxFrame(encodeFrame(frame))).toEqual(frame)
  })

  it('refuses frames over the limits with a clear code', async () => {
    expect(await codeOf(message('x'.repeat(MAX_TEXT_BYTES + 1)))).toBe('ERR_MESSAGE_TOO_LARGE')
    const big = await message('x'.repeat(MAX_TEXT_BYTES))
    expect(decodeMsgFrame(encodeFrame({ type: 'deliver', message: big })).type).toBe('deliver')
    const tooLong = encodeFrame({ type: 'deliver', message: { ...big, text: 'é'.repeat(MAX_TEXT_BYTES) } })
    expect(() => decodeMsgFrame(tooLong)).toThrow(expect.objectContaining({ code: 'ERR_MALFORMED_MESSAGE' }))
    expect(() => decodeMsgFrame(new Uint8Array(MAX_MSG_FRAME + 1))).toThrow(expect.objectContaining({ code: 'ERR_MALFORMED_MESSAGE' }))
    const tooMany = encodeFrame({ type: 'store', recipient: other, envelopes: Array.from({ length: MAX_BATCH + 1 }, (_, i) => envelope(i)) })
    expect(() => decodeMailboxFrame(tooMany)).toThrow(expect.objectContaining({ code: 'ERR_MALFORMED_MESSAGE' }))
  })

  it('table of malformed frames', async () => {
    const good = await message('hi')
    const bad: unknown[] = [
      null, [], 'deliver', { type: 'nope' },
      { type: 'deliver', message: { ...good, seq: 0 } },
      { type: 'deliver', message: { ...good, seq: 1.5 } },
      { type: 'deliver', message: { ...good, id: 'short' } },
      { type: 'deliver', message: { ...good, from: 'not a peer' } },
      { type: 'deliver', message: { ...good, sig: '!!' } },
      { type: 'deliver', message: { ...good, file: { link: 'x', name: 'n', size: -1 } } },
      { type: 'receipt', id: good.id, status: 'maybe' },
      { type: 'receipts', ids: ['x'], status: 'read', sig: 'c2ln' },
      { type: 'receipts', ids: [good.id], status: 'read' },
      { type: 'receipts', ids: [good.id], status: 'read', sig: '!!' }
    ]
    for (const value of bad) {
      expect(() => decodeMsgFrame(new TextEncoder().encode(JSON.stringify(value))), JSON.stringify(value)).toThrow(expect.objectContaining({ code: 'ERR_MALFORMED_MESSAGE' }))
    }
    expect(() => decodeMsgFrame(new Uint8Array([0xc3, 0x28]))).toThrow(expect.objectContaining({ code: 'ERR_MALFORMED_MESSAGE' }))
  })

  it('signatures cover every field', async () => {
    const m = await message('signed', 3, { link: 'kizuna://x', name: 'f', size: 1 })
    await verifyMessage(m)
    for (const tampered of [{ ...m, text: 'Signed' }, { ...m, seq: 4 }, { ...m, to: self }, { ...m, sentAt: m.sentAt + 1 }, { ...m, file: { ...m.file!, link: 'kizuna://y' } }, { ...m, from: other }]) {
      expect(await codeOf(verifyMessage(tampered))).toBe('ERR_BAD_SIGNATURE')
    }
  })

  it('property: any text and sequence round-trips and still verifies; random bytes never crash the decoder', async () => {
    await fc.assert(fc.asyncProperty(fc.string({ maxLength: 500 }), fc.integer({ min: 1, max: 2 ** 40 }), async (text, seq) => {
      const m = await message(text, seq)
      const back = decodeMsgFrame(encodeFrame({ type: 'deliver', message: m }))
      expect(back).toEqual({ type: 'deliver', message: m })
      await verifyMessage((back as { message: DirectMessage }).message)
    }), { numRuns: 100 })
    fc.assert(fc.property(fc.uint8Array({ maxLength: 2000 }), bytes => {
      for (const decode of [decodeMsgFrame, decodeMailboxFrame]) {
        try { decode(bytes) } catch (err) { expect((err as { code?: string }).code).toBe('ERR_MALFORMED_MESSAGE') }
      }
    }), { numRuns: 500 })
  })
})
