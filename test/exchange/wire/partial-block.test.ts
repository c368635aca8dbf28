import fc from 'fast-check'
import { Uint8ArrayList } from 'uint8arraylist'
import { describe, expect, it } from 'vitest'
import { KizunaError } from '../../../src/errors.js'
import { FrameDecoder, MAX_BLOCK_SIZE, encodeBlockHeader, encodeMessage } from '../../../src/exchange/wire/codec.js'

function flat (x: Uint8Array | Uint8ArrayList): Uint8Array {
  return x instanceof Uint8Array ? x : x.subarray()
}

const idArb = fc.oneof(fc.integer({ min: 0, max: 300 }), fc.maxSafeNat())

describe('a BLOCK frame written in pieces (encodeBlockHeader)', () => {
  it('is byte for byte the frame encodeMessage makes', () => {
    fc.assert(fc.property(idArb, fc.uint8Array({ maxLength: 5000 }), (id, bytes) => {
      const header = encodeBlockHeader(id, bytes.byteLength)
      const whole = flat(encodeMessage({ type: 'block', id, bytes }))
      expect(Buffer.concat([header, bytes]).equals(Buffer.from(whole))).toBe(true)
    }))
  })

  it('refuses a size over the block limit with a code', () => {
    for (const size of [MAX_BLOCK_SIZE + 1, -1, 1.5]) {
      let code: string | undefined
      try {
        encodeBlockHeader(1, size)
      } catch (err) {
        expect(err).toBeInstanceOf(KizunaError)
        code = (err as KizunaError).code
      }
      expect(code).toBe('ERR_BLOCK_TOO_LARGE')
    }
    expect(encodeBlockHeader(1, MAX_BLOCK_SIZE).byteLength).toBeGreaterThan(0)
  })
})

describe('FrameDecoder.partialBlock', () => {
  it('shows exactly the payload bytes that arrived, at any split, until the frame is whole', () => {
    fc.assert(fc.property(idArb, fc.uint8Array({ minLength: 1, maxLength: 4000 }), fc.array(fc.nat(), { maxLength: 8 }), (id, bytes, cuts) => {
      const frame = flat(encodeMessage({ type: 'block', id, bytes }))
      const headerLength = frame.byteLength - bytes.byteLength
      const points = [...new Set(cuts.map(c => c % frame.byteLength))].sort((a, b) => a - b)
      const decoder = new FrameDecoder()
      let at = 0
      for (const p of [...points, frame.byteLength]) {
        decoder.push(frame.subarray(at, p))
        at = p
        const msg = decoder.next()
        const partial = decoder.partialBlock()
        if (at === frame.byteLength) {
          expect(msg?.type).toBe('block')
          expect(partial).toBeUndefined()
          continue
        }
        expect(msg).toBeUndefined()
        if (at <= headerLength) {
          // only once the header (length, type, id) is all here may a partial block be shown;
          // with the header complete and no payload yet, it shows 0 bytes received
          if (partial !== undefined) expect(partial.received).toBe(at - headerLength)
          continue
        }
        expect(partial).toMatchObject({ id, size: bytes.byteLength, received: at - headerLength })
        expect(Buffer.from(partial?.read(0, at - headerLength) ?? []).equals(Buffer.from(bytes.subarray(0, at - headerLength)))).toBe(true)
      }
    }))
  })

  it('shows nothing for other frames, and nothing while an earlier frame is whole but unread', () => {
    const decoder = new FrameDecoder()
    const want = flat(encodeMessage({ type: 'dont-have', id: 3 }))
    decoder.push(want)
    expect(decoder.partialBlock()).toBeUndefined()
    expect(decoder.next()?.type).toBe('dont-have')
    const error = flat(encodeMessage({ type: 'error', id: 4, message: 'x'.repeat(100) }))
    decoder.push(error.subarray(0, 20))
    expect(decoder.partialBlock()).toBeUndefined()
  })

  it('does not throw on a bad header: next() reports it', () => {
    const decoder = new FrameDecoder({ maxFrameLength: 100 })
    decoder.push(Uint8Array.from([0xff, 0xff, 0x7f]))
    expect(decoder.partialBlock()).toBeUndefined()
    expect(() => decoder.next()).toThrow(KizunaError)
    expect(decoder.partialBlock()).toBeUndefined()
  })
})
