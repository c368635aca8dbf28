import fc from 'fast-check'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import * as Digest from 'multiformats/hashes/digest'
import { Uint8ArrayList } from 'uint8arraylist'
import { describe, expect, it } from 'vitest'
import { KizunaError } from '../../../src/errors.js'
import {
  FrameDecoder, MAX_BLOCK_SIZE, MAX_FRAME_LENGTH, MAX_REQUEST_FRAME_LENGTH, decodeAll, encodeMessage,
  type Message
} from '../../../src/exchange/wire/codec.js'

function flat (x: Uint8Array | Uint8ArrayList): Uint8Array {
  return x instanceof Uint8Array ? x : x.subarray()
}

async function cidOf (bytes: Uint8Array): Promise<CID> {
  return CID.createV1(raw.code, await sha256.digest(bytes))
}

function normalise (m: Message): unknown {
  if (m.type === 'want' || m.type === 'have-query') {
    return { ...m, cid: m.cid.toString() }
  }
  if (m.type === 'block') {
    return { ...m, bytes: Array.from(m.bytes) }
  }
  if (m.type === 'have-reply' && m.count === undefined) {
    const { count, ...rest } = m
    return rest
  }
  return m
}

function expectCode (fn: () => unknown, code: string): void {
  try {
    fn()
  } catch (err) {
    expect(err).toBeInstanceOf(KizunaError)
    expect((err as KizunaError).code).toBe(code)
    return
  }
  throw new Error(`expected ${code}, nothing was thrown`)
}

function varint (n: number): Uint8Array {
  const out: number[] = []
  while (n >= 0x80) {
    out.push((n % 0x80) | 0x80)
    n = Math.floor(n / 0x80)
  }
  out.push(n)
  return new Uint8Array(out)
}

/** Splits `bytes` at the given (sorted, deduplicated) cut points */
function split (bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const points = [...new Set(cuts.map(c => c % (bytes.byteLength + 1)))].sort((a, b) => a - b)
  const out: Uint8Array[] = []
  let prev = 0
  for (const p of points) {
    out.push(bytes.subarray(prev, p))
    prev = p
  }
  out.push(bytes.subarray(prev))
  return out
}

const idArb = fc.oneof(fc.integer({ min: 0, max: 300 }), fc.maxSafeNat())
const cidArb = fc.uint8Array({ minLength: 32, maxLength: 32 }).map(d => CID.createV1(raw.code, Digest.create(sha256.code, d)))
const messageArb: fc.Arbitrary<Message> = fc.oneof(
  fc.record({ type: fc.constant('want' as const), id: idArb, cid: cidArb }),
  fc.record({ type: fc.constant('have-query' as const), id: idArb, cid: cidArb }),
  fc.record({ type: fc.constant('block' as const), id: idArb, bytes: fc.uint8Array({ maxLength: 3000 }) }),
  fc.record({ type: fc.constant('dont-have' as const), id: idArb }),
  fc.record({ type: fc.constant('cancel' as const), id: idArb }),
  fc.record({ type: fc.constant('busy' as const), id: idArb, retryAfterMs: fc.nat() }),
  fc.record({ type: fc.constant('have-reply' as const), id: idArb, has: fc.constantFrom('none' as const, 'partial' as const, 'full' as const), count: fc.option(fc.maxSafeNat(), { nil: undefined }) }),
  fc.record({ type: fc.constant('error' as const), id: idArb, message: fc.string({ maxLength: 200 }) })
)

describe('exchange codec', () => {
  it('round-trips every message type', async () => {
    const cid = await cidOf(new Uint8Array([1, 2, 3]))
    const messages: Message[] = [
      { type: 'want', id: 1, cid },
      { type: 'block', id: 2, bytes: new Uint8Array([9, 8, 7]) },
      { type: 'block', id: 3, bytes: new Uint8Array(0) },
      { type: 'dont-have', id: 4 },
      { type: 'have-query', id: 5, cid },
      { type: 'have-reply', id: 5, has: 'partial', count: 12 },
      { type: 'have-reply', id: 6, has: 'none' },
      { type: 'busy', id: 7, retryAfterMs: 250 },
      { type: 'cancel', id: 8 },
      { type: 'error', id: 0, message: 'nope ✓' },
      { type: 'want', id: Number.MAX_SAFE_INTEGER, cid }
    ]
    const wire = messages.map(m => flat(encodeMessage(m)))
    expect(decodeAll(wire).map(normalise)).toEqual(messages.map(normalise))
  })

  it('encodes a BLOCK without copying the block bytes', () => {
    const block = new Uint8Array(1024).fill(7)
    const encoded = encodeMessage({ type: 'block', id: 1, bytes: block })
    expect(encoded).toBeInstanceOf(Uint8ArrayList)
    const parts = [...(encoded as Uint8ArrayList)]
    expect(parts[parts.length - 1]).toBe(block)
  })

  it('decodes a maximal block and refuses anything larger to encode', () => {
    const bytes = new Uint8Array(MAX_BLOCK_SIZE).fill(1)
    const [m] = decodeAll([encodeMessage({ type: 'block', id: 9, bytes })])
    expect(m.type === 'block' && m.bytes.byteLength).toBe(MAX_BLOCK_SIZE)
    expectCode(() => encodeMessage({ type: 'block', id: 1, bytes: new Uint8Array(MAX_BLOCK_SIZE + 1) }), 'ERR_BLOCK_TOO_LARGE')
  })

  it('rejects an oversized length claim from its prefix alone', () => {
    const d = new FrameDecoder()
    // varint(MAX_FRAME_LENGTH + 1) with no body: must fail before any body arrives
    d.push(varint(MAX_FRAME_LENGTH + 1))
    expectCode(() => d.next(), 'ERR_FRAME_TOO_LARGE')
    // and stays failed
    expectCode(() => d.next(), 'ERR_FRAME_TOO_LARGE')
    expectCode(() => { d.push(new Uint8Array([1])) }, 'ERR_FRAME_TOO_LARGE')
  })

  it('rejects a huge claim after its first varint bytes, before the varint even ends', () => {
    const d = new FrameDecoder({ maxFrameLength: MAX_REQUEST_FRAME_LENGTH })
    d.push(new Uint8Array([0xff, 0xff]))
    expectCode(() => d.next(), 'ERR_FRAME_TOO_LARGE')
  })

  it('accepts exactly the limit and waits for the body', () => {
    const d = new FrameDecoder({ maxFrameLength: 200 })
    d.push(new Uint8Array([200, 1])) // varint 200 = 0xc8 0x01
    expect(d.next()).toBeUndefined()
  })

  it('rejects malformed frames with ERR_MALFORMED_FRAME', async () => {
    const cid = await cidOf(new Uint8Array([1]))
    const cases: Array<[string, number[]]> = [
      ['empty frame', [0]],
      ['unknown type', [2, 99, 1]],
      ['type 0', [2, 0, 1]],
      ['non-minimal length varint', [0x82, 0x00, 3, 1]],
      ['truncated id', [2, 3, 0x80]],
      ['non-minimal id', [3, 3, 0x81, 0x00]],
      ['trailing bytes on DONT_HAVE', [3, 3, 1, 5]],
      ['WANT without CID', [2, 1, 1]],
      ['bad CID', [5, 1, 1, 0x01, 0x55, 0x12]],
      ['CID with trailing garbage', [2 + cid.bytes.length + 1, 1, 1, ...cid.bytes, 0]],
      ['HAVE_REPLY bad state', [3, 5, 1, 3]],
      ['HAVE_REPLY missing state', [2, 5, 1]],
      ['BUSY without retry', [2, 6, 1]],
      ['id over 2^53', [10, 3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]]
    ]
    for (const [name, bytes] of cases) {
      const d = new FrameDecoder()
      d.push(new Uint8Array(bytes))
      try {
        d.next()
        throw new Error(`${name}: accepted`)
      } catch (err) {
        expect((err as KizunaError).code, name).toBe('ERR_MALFORMED_FRAME')
      }
    }
  })

  it('returns undefined for a truncated payload until the rest arrives', async () => {
    const cid = await cidOf(new Uint8Array([1]))
    const wire = flat(encodeMessage({ type: 'want', id: 3, cid }))
    const d = new FrameDecoder()
    d.push(wire.subarray(0, wire.length - 1))
    expect(d.next()).toBeUndefined()
    d.push(wire.subarray(wire.length - 1))
    expect(d.next()?.type).toBe('want')
    expect(d.bufferedLength).toBe(0)
  })

  it('property: random messages round-trip when split at random chunk boundaries', () => {
    fc.assert(fc.property(fc.array(messageArb, { minLength: 1, maxLength: 12 }), fc.array(fc.nat(), { maxLength: 40 }), (messages, cuts) => {
      const wire = new Uint8ArrayList(...messages.map(m => encodeMessage(m))).subarray()
      const decoded = decodeAll(split(wire, cuts))
      expect(decoded.map(normalise)).toEqual(messages.map(normalise))
    }), { numRuns: 300 })
  })

  it('property: random garbage only ever throws KizunaErrors and terminates', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 600 }), fc.array(fc.nat(), { maxLength: 10 }), fc.constantFrom(MAX_FRAME_LENGTH, MAX_REQUEST_FRAME_LENGTH, 16), (garbage, cuts, maxFrameLength) => {
      const d = new FrameDecoder({ maxFrameLength })
      let count = 0
      try {
        for (const chunk of split(garbage, cuts)) {
          d.push(chunk)
          for (let m = d.next(); m !== undefined; m = d.next()) {
            // every decoded message consumes at least 2 bytes, so this bounds the loop
            expect(++count).toBeLessThanOrEqual(garbage.length)
          }
        }
      } catch (err) {
        expect(err).toBeInstanceOf(KizunaError)
        expect(['ERR_MALFORMED_FRAME', 'ERR_FRAME_TOO_LARGE']).toContain((err as KizunaError).code)
      }
    }), { numRuns: 2000 })
  })

  it('property: valid frames followed by garbage yield the valid ones first', () => {
    fc.assert(fc.property(fc.array(messageArb, { maxLength: 5 }), fc.uint8Array({ minLength: 1, maxLength: 100 }), (messages, garbage) => {
      const wire = new Uint8ArrayList(...messages.map(m => encodeMessage(m)), garbage).subarray()
      const d = new FrameDecoder()
      d.push(wire)
      const got: Message[] = []
      try {
        for (let m = d.next(); m !== undefined; m = d.next()) {
          got.push(m)
        }
      } catch (err) {
        expect(err).toBeInstanceOf(KizunaError)
      }
      expect(got.slice(0, messages.length).map(normalise)).toEqual(messages.map(normalise))
    }), { numRuns: 300 })
  })
})
