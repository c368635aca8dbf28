import { createCipheriv, createDecipheriv, randomBytes, type DecipherGCM } from 'node:crypto'
import { KizunaError } from '../errors.js'

/**
 * Encrypted content format (v1): MAGIC(4) | nonce(12) | AES-256-GCM ciphertext | tag(16).
 * The whole file is one GCM message, so any change anywhere fails the tag. The CID names the
 * ciphertext: caches and replicas hold bytes they cannot read, and the key travels only in
 * the share link's fragment.
 */
export const CIPHER_MAGIC = new Uint8Array([0x4b, 0x5a, 0x45, 0x31]) // "KZE1"
export const KEY_LENGTH = 32
export const NONCE_LENGTH = 12
export const TAG_LENGTH = 16
export const HEADER_LENGTH = CIPHER_MAGIC.length + NONCE_LENGTH
/** ciphertext size for a given plaintext size */
export const encryptedSize = (plaintextBytes: number): number => HEADER_LENGTH + plaintextBytes + TAG_LENGTH

export function generateContentKey (): Uint8Array {
  return new Uint8Array(randomBytes(KEY_LENGTH))
}

function checkKey (key: Uint8Array): void {
  if (key.length !== KEY_LENGTH) {
    throw new KizunaError('ERR_BAD_KEY', `content key must be ${KEY_LENGTH} bytes, got ${key.length}`)
  }
}

export async function * encryptStream (source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, key: Uint8Array): AsyncGenerator<Uint8Array> {
  checkKey(key)
  const nonce = randomBytes(NONCE_LENGTH)
  const cipher = createCipheriv('aes-256-gcm', key, nonce)
  const header = new Uint8Array(HEADER_LENGTH)
  header.set(CIPHER_MAGIC, 0)
  header.set(nonce, CIPHER_MAGIC.length)
  yield header
  for await (const chunk of source) {
    const out = cipher.update(chunk)
    if (out.length > 0) yield new Uint8Array(out.buffer, out.byteOffset, out.byteLength)
  }
  const last = cipher.final()
  if (last.length > 0) yield new Uint8Array(last)
  yield new Uint8Array(cipher.getAuthTag())
}

/**
 * Yields plaintext as it goes and throws ERR_DECRYPT_FAILED at the end if the tag does not
 * verify: callers must write to a temporary place and publish only after the loop completes.
 */
export async function * decryptStream (source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, key: Uint8Array): AsyncGenerator<Uint8Array> {
  checkKey(key)
  let pending: Uint8Array = new Uint8Array(0)
  let decipher: DecipherGCM | undefined
  const append = (a: Uint8Array, b: Uint8Array): Uint8Array => {
    const out = new Uint8Array(a.length + b.length)
    out.set(a, 0)
    out.set(b, a.length)
    return out
  }
  for await (const chunk of source) {
    pending = pending.length === 0 ? chunk : append(pending, chunk)
    if (decipher == null) {
      if (pending.length < HEADER_LENGTH) continue
      if (!CIPHER_MAGIC.every((byte, i) => pending[i] === byte)) {
        throw new KizunaError('ERR_NOT_ENCRYPTED', 'content is not Kizuna-encrypted (bad header); was the link given a key by mistake?')
      }
      decipher = createDecipheriv('aes-256-gcm', key, pending.subarray(CIPHER_MAGIC.length, HEADER_LENGTH))
      pending = pending.subarray(HEADER_LENGTH)
    }
    // the last TAG_LENGTH bytes might be the tag: hold them back until the stream ends
    if (pending.length > TAG_LENGTH) {
      const out = decipher.update(pending.subarray(0, pending.length - TAG_LENGTH))
      pending = pending.slice(pending.length - TAG_LENGTH)
      if (out.length > 0) yield new Uint8Array(out.buffer, out.byteOffset, out.byteLength)
    }
  }
  if (decipher == null || pending.length !== TAG_LENGTH) {
    throw new KizunaError('ERR_DECRYPT_FAILED', 'encrypted content is truncated')
  }
  decipher.setAuthTag(pending)
  try {
    const last = decipher.final()
    if (last.length > 0) yield new Uint8Array(last)
  } catch {
    throw new KizunaError('ERR_DECRYPT_FAILED', 'decryption failed: wrong key or tampered content')
  }
}
