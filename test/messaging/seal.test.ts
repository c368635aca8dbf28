import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { open, seal } from '../../src/messaging/seal.js'

const alice = await generateKeyPair('Ed25519')
const bob = await generateKeyPair('Ed25519')
const bobId = peerIdFromPrivateKey(bob).toString()

describe('sealed envelopes (x25519 + HKDF + XChaCha20-Poly1305 from @noble)', () => {
  it('opens only with the recipient key, and hides the plaintext', () => {
    const plaintext = new TextEncoder().encode('meet me at the station')
    const box = seal(plaintext, bobId)
    expect(Buffer.from(box).includes(Buffer.from('station'))).toBe(false)
    expect(new TextDecoder().decode(open(box, bob))).toBe('meet me at the station')
    expect(() => open(box, alice)).toThrow(expect.objectContaining({ code: 'ERR_SEAL_FAILED' }))
  })

  it('two seals of one message differ (ephemeral key and nonce)', () => {
    const plaintext = new Uint8Array(32)
    expect(Buffer.compare(seal(plaintext, bobId), seal(plaintext, bobId))).not.toBe(0)
  })

  it('refuses tampered, truncated and unknown-version boxes', () => {
    const box = seal(new TextEncoder().encode('x'), bobId)
    for (const i of [0, 1, 40, box.length - 1]) {
      const bad = box.slice()
      bad[i] ^= 1
      expect(() => open(bad, bob)).toThrow(expect.objectContaining({ code: 'ERR_SEAL_FAILED' }))
    }
    expect(() => open(box.subarray(0, 60), bob)).toThrow(expect.objectContaining({ code: 'ERR_SEAL_FAILED' }))
  })

  it('property: any bytes round-trip', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 4096 }), bytes => {
      expect(Buffer.compare(Buffer.from(open(seal(bytes, bobId), bob)), Buffer.from(bytes))).toBe(0)
    }), { numRuns: 50 })
  })
})
