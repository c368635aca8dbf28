import { randomBytes } from 'node:crypto'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { identity } from 'multiformats/hashes/identity'
import { sha256, sha512 } from 'multiformats/hashes/sha2'
import { describe, expect, it } from 'vitest'
import { MAX_BLOCK_SIZE, checkBlockSize, isSupportedHash, verifyBlock } from '../../../src/content/blocks/verify.js'

async function rawCid (bytes: Uint8Array, hasher: typeof sha256 | typeof sha512 = sha256): Promise<CID> {
  return CID.createV1(raw.code, await hasher.digest(bytes))
}

function codeOf (fn: () => void): string | undefined {
  try {
    fn()
  } catch (err) {
    return (err as { code?: string }).code
  }
  return undefined
}

describe('verifyBlock', () => {
  it('accepts matching sha2-256 and sha2-512 blocks, including the empty block', async () => {
    for (const bytes of [new Uint8Array(0), randomBytes(1), randomBytes(100_000)]) {
      verifyBlock(await rawCid(bytes), bytes)
      verifyBlock(await rawCid(bytes, sha512), bytes)
    }
  })

  it('rejects a single flipped bit anywhere with ERR_BLOCK_HASH_MISMATCH', async () => {
    const bytes = randomBytes(4096)
    const cid = await rawCid(bytes)
    for (const position of [0, 1, 2047, 4095]) {
      const flipped = Uint8Array.from(bytes)
      flipped[position] ^= 0x01
      expect(codeOf(() => { verifyBlock(cid, flipped) })).toBe('ERR_BLOCK_HASH_MISMATCH')
    }
    // a truncated or extended block too
    expect(codeOf(() => { verifyBlock(cid, bytes.subarray(1)) })).toBe('ERR_BLOCK_HASH_MISMATCH')
    expect(codeOf(() => { verifyBlock(cid, new Uint8Array([...bytes, 0])) })).toBe('ERR_BLOCK_HASH_MISMATCH')
  })

  it('handles subarray views (byteOffset != 0)', async () => {
    const backing = randomBytes(1000)
    const view = backing.subarray(100, 900)
    verifyBlock(await rawCid(Uint8Array.from(view)), view)
  })

  it('verifies identity multihashes against the inline bytes', () => {
    const bytes = new TextEncoder().encode('hello')
    const cid = CID.createV1(raw.code, identity.digest(bytes))
    verifyBlock(cid, bytes)
    expect(codeOf(() => { verifyBlock(cid, new TextEncoder().encode('hellO')) })).toBe('ERR_BLOCK_HASH_MISMATCH')
  })

  it('rejects unsupported hash functions with ERR_UNSUPPORTED_HASH', () => {
    // a blake2b-256 (0xb220) multihash, hand-built: we cannot verify it
    const digest = { code: 0xb220, size: 32, digest: new Uint8Array(32), bytes: new Uint8Array([0xa0, 0xe4, 0x02, 0x20, ...new Uint8Array(32)]) }
    const cid = CID.createV1(raw.code, digest)
    expect(isSupportedHash(cid)).toBe(false)
    expect(codeOf(() => { verifyBlock(cid, new Uint8Array(1)) })).toBe('ERR_UNSUPPORTED_HASH')
  })

  it('enforces MAX_BLOCK_SIZE (2 MiB) before hashing', async () => {
    expect(MAX_BLOCK_SIZE).toBe(2 * 1024 * 1024)
    const atLimit = new Uint8Array(MAX_BLOCK_SIZE)
    verifyBlock(await rawCid(atLimit), atLimit)
    const over = new Uint8Array(MAX_BLOCK_SIZE + 1)
    // the size check comes first, so even a CID of the right bytes is refused
    const overCid = await rawCid(over)
    expect(codeOf(() => { verifyBlock(overCid, over) })).toBe('ERR_BLOCK_TOO_LARGE')
    expect(codeOf(() => { checkBlockSize(MAX_BLOCK_SIZE + 1) })).toBe('ERR_BLOCK_TOO_LARGE')
  })
})
