import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import * as raw from 'multiformats/codecs/raw'
import { ReplicationDecoder, decodeReplicationMessage, encodeReplicationFrame, encodeReplicationMessage, MAX_REPLICATION_FRAME, type ReplicationMessage } from '../../src/replication/codec.js'

const cidArb = fc.uint8Array({ maxLength: 32 }).map(bytes => CID.createV1(raw.code, sha256.digest(bytes) as any))

function hexArb (length: number): fc.Arbitrary<string> {
  return fc.uint8Array({ minLength: length / 2, maxLength: length / 2 }).map(bytes => Buffer.from(bytes).toString('hex'))
}

const messageArb: fc.Arbitrary<ReplicationMessage> = fc.oneof(
  fc.record({ type: fc.constant('offer' as const), root: cidArb, size: fc.nat(), reason: fc.constantFrom('demand' as const, 'floor' as const), floor: fc.integer({ min: 0, max: 64 }), hints: fc.array(fc.string({ maxLength: 100 }), { maxLength: 8 }) }),
  fc.record({ type: fc.constant('offer-reply' as const), accepted: fc.boolean(), reason: fc.option(fc.string({ maxLength: 100 }), { nil: undefined }) }),
  fc.record({ type: fc.constant('holder-query' as const), root: cidArb, probe: fc.option(fc.record({ cid: cidArb, nonce: hexArb(32) }), { nil: undefined }) }),
  fc.record({ type: fc.constant('holder-reply' as const), has: fc.constantFrom('none' as const, 'partial' as const, 'full' as const), kind: fc.option(fc.constantFrom('pinned' as const, 'cached' as const), { nil: undefined }), floor: fc.option(fc.integer({ min: 0, max: 64 }), { nil: undefined }), proof: fc.option(hexArb(64), { nil: undefined }) })
)

function normalise (message: ReplicationMessage): unknown {
  const plain: Record<string, unknown> = { ...message }
  if ('root' in message) plain.root = message.root.toString()
  if (message.type === 'holder-query' && message.probe !== undefined) plain.probe = { cid: message.probe.cid.toString(), nonce: message.probe.nonce }
  return JSON.parse(JSON.stringify(plain))
}

describe('replication codec', () => {
  it('round-trips any message sequence split at any chunk boundaries', () => {
    fc.assert(fc.property(fc.array(messageArb, { minLength: 1, maxLength: 5 }), fc.array(fc.integer({ min: 1, max: 50 }), { minLength: 1, maxLength: 10 }), (messages, cuts) => {
      const wire = Buffer.concat(messages.map(encodeReplicationFrame))
      const decoder = new ReplicationDecoder()
      const out: ReplicationMessage[] = []
      let offset = 0
      let i = 0
      while (offset < wire.length) {
        const size = cuts[i++ % cuts.length]
        out.push(...decoder.push(wire.subarray(offset, offset + size)))
        offset += size
      }
      expect(out.map(normalise)).toEqual(messages.map(normalise))
      // nothing was left half-read: one more whole frame decodes on its own
      expect(decoder.push(encodeReplicationFrame(messages[0])).map(normalise)).toEqual([normalise(messages[0])])
    }))
  })

  it('a body decodes to the message it encodes (no framing)', () => {
    fc.assert(fc.property(messageArb, message => {
      expect(normalise(decodeReplicationMessage(encodeReplicationMessage(message)))).toEqual(normalise(message))
    }))
  })

  it('refuses to encode a message larger than the frame limit, and accepts one just under it', () => {
    const big = (length: number): ReplicationMessage => ({ type: 'offer-reply', accepted: false, reason: 'x'.repeat(length) })
    const overhead = encodeReplicationMessage(big(0)).length
    expect(encodeReplicationMessage(big(MAX_REPLICATION_FRAME - overhead)).length).toBe(MAX_REPLICATION_FRAME)
    expect(() => encodeReplicationMessage(big(MAX_REPLICATION_FRAME - overhead + 1))).toThrow(expect.objectContaining({ code: 'ERR_MALFORMED_FRAME' }))
  })

  it('decodes a frame of exactly the limit', () => {
    const body = Buffer.alloc(MAX_REPLICATION_FRAME, 0x20)
    body.set(Buffer.from('{"type":"offer-reply","accepted":true}'))
    const frame = Buffer.concat([Buffer.from([0x80, 0x80, 0x01]), body])
    expect(new ReplicationDecoder().push(frame)).toEqual([{ type: 'offer-reply', accepted: true, reason: undefined }])
  })

  it('refuses a frame claiming more than the limit from its prefix alone', () => {
    const decoder = new ReplicationDecoder()
    // varint of 1 GiB, with no body behind it
    expect(() => decoder.push(new Uint8Array([0x80, 0x80, 0x80, 0x04]))).toThrow(expect.objectContaining({ code: 'ERR_MALFORMED_FRAME' }))
    // MAX + 1 = 16385 = 0x81 0x80 0x01 as a varint
    expect(MAX_REPLICATION_FRAME + 1).toBe(1 + 128 * 128)
    expect(() => new ReplicationDecoder().push(new Uint8Array([0x81, 0x80, 0x01]))).toThrow(/more than/)
  })

  it('refuses a length prefix that never ends once it passes the buffer bound', () => {
    const decoder = new ReplicationDecoder()
    expect(() => { for (let i = 0; i < 10; i++) decoder.push(new Uint8Array(8 * 1024).fill(0xff)) }).toThrow(expect.objectContaining({ code: 'ERR_MALFORMED_FRAME' }))
  })

  it.each([
    ['{"type":"offer","root":"bafy","size":1,"reason":"demand","floor":0,"hints":[]}', /CID/],
    ['{"type":"offer","root":"bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy","size":-1,"reason":"demand","floor":0,"hints":[]}', /size/],
    ['{"type":"offer","root":"bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy","size":1,"reason":"greed","floor":0,"hints":[]}', /reason/],
    ['{"type":"holder-reply","has":"maybe"}', /has/],
    ['{"type":"holder-reply","has":"full","proof":"xyz"}', /proof/],
    ['{"type":"holder-query","root":"bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy","probe":{"cid":"bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy","nonce":"00"}}', /nonce/],
    ['{"type":"holder-query","root":"bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy","probe":[]}', /probe/],
    ['{"type":"nope"}', /unknown/],
    ['[1,2]', /object/],
    ['not json', /JSON/]
  ])('rejects %s', (json, pattern) => {
    const body = Buffer.from(json)
    const frame = Buffer.concat([Buffer.from([body.length & 0x7f | (body.length > 127 ? 0x80 : 0), ...(body.length > 127 ? [body.length >> 7] : [])]), body])
    expect(() => new ReplicationDecoder().push(frame)).toThrow(pattern)
  })

  it('garbage never throws anything but a coded frame error', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), bytes => {
      try {
        new ReplicationDecoder().push(bytes)
      } catch (err) {
        expect((err as { code: string }).code).toBe('ERR_MALFORMED_FRAME')
      }
    }), { numRuns: 500 })
  })
})
