import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { decryptStream, encryptStream, encryptedSize, generateContentKey } from '../../src/crypto/content-cipher.js'

async function collect (source: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = []
  for await (const part of source) parts.push(part)
  return new Uint8Array(Buffer.concat(parts))
}

function rechunk (bytes: Uint8Array, sizes: number[]): Uint8Array[] {
  const out: Uint8Array[] = []
  let offset = 0
  for (const size of sizes) {
    if (offset >= bytes.length) break
    out.push(bytes.subarray(offset, offset + size))
    offset += size
  }
  if (offset < bytes.length) out.push(bytes.subarray(offset))
  return out
}

describe('content cipher', () => {
  it('round-trips any plaintext across any chunking', async () => {
    await fc.assert(fc.asyncProperty(
      fc.uint8Array({ maxLength: 5000 }),
      fc.array(fc.integer({ min: 1, max: 700 }), { maxLength: 20 }),
      fc.array(fc.integer({ min: 1, max: 700 }), { maxLength: 20 }),
      async (plain, inSizes, outSizes) => {
        const key = generateContentKey()
        const sealed = await collect(encryptStream(rechunk(plain, inSizes), key))
        expect(sealed.length).toBe(encryptedSize(plain.length))
        const opened = await collect(decryptStream(rechunk(sealed, outSizes), key))
        expect(Buffer.from(opened).equals(Buffer.from(plain))).toBe(true)
      }
    ), { numRuns: 100 })
  })

  it('ciphertext does not contain the plaintext', async () => {
    const plain = new Uint8Array(Buffer.from('the secret photo bytes '.repeat(200)))
    const sealed = await collect(encryptStream([plain], generateContentKey()))
    expect(Buffer.from(sealed).includes(Buffer.from('the secret photo'))).toBe(false)
  })

  it('a wrong key, a flipped byte or truncation fail with a coded error', async () => {
    const key = generateContentKey()
    const sealed = await collect(encryptStream([new Uint8Array(1000).fill(7)], key))
    await expect(collect(decryptStream([sealed], generateContentKey()))).rejects.toMatchObject({ code: 'ERR_DECRYPT_FAILED' })
    const flipped = sealed.slice()
    flipped[500] ^= 1
    await expect(collect(decryptStream([flipped], key))).rejects.toMatchObject({ code: 'ERR_DECRYPT_FAILED' })
    await expect(collect(decryptStream([sealed.subarray(0, 20)], key))).rejects.toMatchObject({ code: 'ERR_DECRYPT_FAILED' })
    await expect(collect(decryptStream([new Uint8Array(100)], key))).rejects.toMatchObject({ code: 'ERR_NOT_ENCRYPTED' })
    await expect(collect(decryptStream([sealed], new Uint8Array(5)))).rejects.toMatchObject({ code: 'ERR_BAD_KEY' })
  })
})
