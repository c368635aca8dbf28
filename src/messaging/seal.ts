import { ed25519, x25519 } from '@noble/curves/ed25519.js'
import { xchacha20poly1305 } from '@noble/ciphers/chacha.js'
import { hkdf } from '@noble/hashes/hkdf.js'
import { sha256 } from '@noble/hashes/sha2.js'
import { randomBytes } from '@noble/ciphers/utils.js'
import { peerIdFromString } from '@libp2p/peer-id'
import type { PrivateKey } from '@libp2p/interface'
import { MessagingError } from './errors.js'

const INFO = new TextEncoder().encode('kizuna-mailbox-seal-v1')
const VERSION = 1
const NONCE_BYTES = 24
/** version ‖ ephemeral x25519 public key ‖ nonce ‖ ciphertext+tag */
const HEADER_BYTES = 1 + 32 + NONCE_BYTES

/**
 * A sealed box for an Ed25519 identity: the recipient's libp2p key converted to x25519
 * (noble's birational map), an ephemeral x25519 key per envelope, HKDF-SHA256 over the shared
 * secret bound to both public keys, XChaCha20-Poly1305. Holders see only random-looking bytes;
 * the sender is authenticated by the signed message inside, not by the box.
 */
export function seal (plaintext: Uint8Array, recipient: string): Uint8Array {
  const recipientX = recipientX25519(recipient)
  const ephemeralSecret = x25519.utils.randomSecretKey()
  const ephemeralPublic = x25519.getPublicKey(ephemeralSecret)
  const key = deriveKey(x25519.getSharedSecret(ephemeralSecret, recipientX), ephemeralPublic, recipientX)
  const nonce = randomBytes(NONCE_BYTES)
  const ciphertext = xchacha20poly1305(key, nonce).encrypt(plaintext)
  const out = new Uint8Array(HEADER_BYTES + ciphertext.length)
  out[0] = VERSION
  out.set(ephemeralPublic, 1)
  out.set(nonce, 33)
  out.set(ciphertext, HEADER_BYTES)
  return out
}

/** Opens a box sealed to our identity; throws ERR_SEAL_FAILED for anything else */
export function open (box: Uint8Array, privateKey: PrivateKey): Uint8Array {
  if (box.length < HEADER_BYTES + 16 || box[0] !== VERSION) {
    throw new MessagingError('ERR_SEAL_FAILED', 'not a sealed envelope of a known version')
  }
  if (privateKey.type !== 'Ed25519') throw new MessagingError('ERR_SEAL_FAILED', 'only Ed25519 identities can open envelopes')
  // libp2p keeps Ed25519 private keys as seed ‖ public key
  const secretX = ed25519.utils.toMontgomerySecret(privateKey.raw.subarray(0, 32))
  const ownX = x25519.getPublicKey(secretX)
  const ephemeralPublic = box.subarray(1, 33)
  try {
    const key = deriveKey(x25519.getSharedSecret(secretX, ephemeralPublic), ephemeralPublic, ownX)
    return xchacha20poly1305(key, box.subarray(33, HEADER_BYTES)).decrypt(box.subarray(HEADER_BYTES))
  } catch (err) {
    throw new MessagingError('ERR_SEAL_FAILED', 'envelope does not open with our key (not for us, or tampered)', { cause: err })
  }
}

function deriveKey (shared: Uint8Array, ephemeralPublic: Uint8Array, recipientX: Uint8Array): Uint8Array {
  const salt = new Uint8Array(64)
  salt.set(ephemeralPublic, 0)
  salt.set(recipientX, 32)
  return hkdf(sha256, shared, salt, INFO, 32)
}

function recipientX25519 (recipient: string): Uint8Array {
  const publicKey = peerIdFromString(recipient).publicKey
  if (publicKey?.type !== 'Ed25519') {
    throw new MessagingError('ERR_SEAL_FAILED', `cannot seal to ${recipient}: not an Ed25519 peer id`)
  }
  return ed25519.utils.toMontgomery(publicKey.raw)
}
