import { randomBytes } from 'node:crypto'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { describe, expect, it, vi } from 'vitest'
import { InMemoryBlockStore, newPossessionNonce, possessionProof } from '../../src/content/index.js'
import { signFloor, supersedes, verifyFloorCert, type FloorCert } from '../../src/replication/floor-cert.js'
import { boundNonce } from '../../src/replication/possession-binding.js'
import { ReplicaFetchGuard } from '../../src/replication/replica-fetch.js'
import { waitFor } from '../helpers/wait.js'

async function block (size: number): Promise<{ cid: CID, bytes: Uint8Array }> {
  const bytes = randomBytes(size)
  return { cid: CID.createV1(raw.code, await sha256.digest(bytes)), bytes }
}

describe('floor certs: only the publisher sets a floor', () => {
  it('verifies its own signature for its root, and nothing altered', async () => {
    const key = await generateKeyPair('Ed25519')
    const publisher = peerIdFromPrivateKey(key).toString()
    const { cid: root } = await block(16)
    const { cid: other } = await block(16)
    const cert = await signFloor(key, publisher, root, 3)
    const stranger = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
    const cases: Array<[string, FloorCert | undefined, CID, boolean]> = [
      ['the cert as signed', cert, root, true],
      ['no cert', undefined, root, false],
      ['another root', cert, other, false],
      ['a raised floor', { ...cert, floor: 64 }, root, false],
      ['a newer date', { ...cert, issued: cert.issued + 1 }, root, false],
      ["another publisher's name", { ...cert, publisher: stranger }, root, false],
      ['a floor past MAX_FLOOR', { ...cert, floor: 65 }, root, false],
      ['a publisher that is not a peer id', { ...cert, publisher: 'nobody' }, root, false],
      ['a mangled signature', { ...cert, sig: cert.sig.slice(0, -4) + 'AAAA' }, root, false]
    ]
    for (const [name, c, r, ok] of cases) expect([name, await verifyFloorCert(c, r)]).toEqual([name, ok])
  })

  it.each<[string, Partial<FloorCert>, Partial<FloorCert> | undefined, boolean]>([
    ['the first floor binds the root to its publisher', { publisher: 'p', issued: 1 }, undefined, true],
    ['a newer floor of the same publisher replaces it', { publisher: 'p', issued: 2 }, { publisher: 'p', issued: 1 }, true],
    ['an older or equal one does not', { publisher: 'p', issued: 1 }, { publisher: 'p', issued: 1 }, false],
    ["another key's floor never does", { publisher: 'q', issued: 9 }, { publisher: 'p', issued: 1 }, false]
  ])('%s', (_name, offered, kept, expected) => {
    const full = (c: Partial<FloorCert>): FloorCert => ({ publisher: 'p', floor: 2, issued: 1, sig: '', ...c })
    expect(supersedes(full(offered), kept === undefined ? undefined : full(kept))).toBe(expected)
  })
})

describe('possession proofs are bound to the prover', () => {
  it('a proof relayed from another holder fails for the relayer', async () => {
    const { bytes } = await block(1024)
    const holder = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
    const relayer = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
    const nonce = newPossessionNonce()
    const relayed = possessionProof(boundNonce(nonce, holder), bytes)
    expect(relayed).not.toBe(possessionProof(boundNonce(nonce, relayer), bytes))
    expect(relayed).toBe(possessionProof(boundNonce(nonce, holder), bytes))
    expect(boundNonce(nonce, holder)).toMatch(/^[0-9a-f]{32}$/)
  })
})

describe('replica fetch guard', () => {
  it('stores up to the claimed bytes, refuses the block that passes them, and discards what it wrote', async () => {
    const inner = new InMemoryBlockStore()
    const guard = new ReplicaFetchGuard(inner, { maxBytes: 2_000, stallMs: 60_000 })
    const [a, b, c] = await Promise.all([block(1_000), block(1_000), block(1)])
    await guard.store.put(a.cid, a.bytes)
    await guard.store.put(b.cid, b.bytes)
    await expect(guard.store.put(c.cid, c.bytes)).rejects.toMatchObject({ code: 'ERR_REPLICA_TOO_LARGE' })
    expect(guard.signal.aborted).toBe(true)
    expect(await inner.has(c.cid)).toBe(false)
    await guard.discard()
    expect([await inner.has(a.cid), await inner.has(b.cid)]).toEqual([false, false])
  })

  it('shared with a get of the same content: no cap, no stall abort, and a failure keeps what it wrote', async () => {
    vi.useFakeTimers()
    try {
      const inner = new InMemoryBlockStore()
      const guard = new ReplicaFetchGuard(inner, { maxBytes: 1_000, stallMs: 50 })
      guard.shared()
      const [a, b] = await Promise.all([block(1_000), block(1_000)])
      await guard.store.put(a.cid, a.bytes)
      await guard.store.put(b.cid, b.bytes)
      // the get's blocks may all go to its output file now: silence here is no stall
      await vi.advanceTimersByTimeAsync(500)
      expect(guard.signal.aborted).toBe(false)
      await guard.discard()
      expect([await inner.has(a.cid), await inner.has(b.cid)]).toEqual([true, true])
    } finally {
      vi.useRealTimers()
    }
  })

  it('aborts a fetch that stores nothing for stallMs', async () => {
    const guard = new ReplicaFetchGuard(new InMemoryBlockStore(), { maxBytes: 1_000, stallMs: 50 })
    await waitFor(() => guard.signal.aborted, { timeoutMs: 10_000, intervalMs: 10, message: 'the stall abort' })
    expect((guard.signal.reason as { code: string }).code).toBe('ERR_REPLICA_STALLED')
  })
})
