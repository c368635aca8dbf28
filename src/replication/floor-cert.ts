import { peerIdFromString } from '@libp2p/peer-id'
import type { PrivateKey } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'
import { MAX_FLOOR } from './constants.js'

/**
 * A replica floor as its publisher set it: signed by the publisher's key over the root's CID,
 * so a holder can pass it on but never raise it (docs/trust-model.md, "Replication").
 * `issued` (ms) orders two floors of the same publisher: the newer one wins.
 */
export interface FloorCert {
  publisher: string
  floor: number
  issued: number
  /** base64url Ed25519 signature over floorCertPayload() */
  sig: string
}

/** Domain-separated bytes the publisher signs: a floor for this root, by this publisher */
function floorCertPayload (root: CID, cert: Omit<FloorCert, 'sig'>): Uint8Array {
  return new TextEncoder().encode(`kizuna-floor/1\n${root.toString()}\n${cert.publisher}\n${cert.floor}\n${cert.issued}`)
}

export async function signFloor (privateKey: PrivateKey, publisher: string, root: CID, floor: number, issued = Date.now()): Promise<FloorCert> {
  const sig = await privateKey.sign(floorCertPayload(root, { publisher, floor, issued }))
  return { publisher, floor, issued, sig: Buffer.from(sig).toString('base64url') }
}

/** True when `cert` is a well-formed floor for `root` signed by the key its publisher id embeds */
export async function verifyFloorCert (cert: FloorCert | undefined, root: CID): Promise<boolean> {
  if (cert == null || !Number.isInteger(cert.floor) || cert.floor < 0 || cert.floor > MAX_FLOOR) return false
  try {
    const publicKey = peerIdFromString(cert.publisher).publicKey
    if (publicKey == null) return false
    return await publicKey.verify(floorCertPayload(root, cert), Buffer.from(cert.sig, 'base64url'))
  } catch {
    return false
  }
}

/**
 * Whether a verified `offered` floor replaces the one we keep: only one from the same
 * publisher, issued later. With none kept, the first verified floor binds the root to its
 * publisher; another key's floor for the same root is ignored (a holder cannot re-publish).
 */
export function supersedes (offered: FloorCert, kept: FloorCert | undefined): boolean {
  if (kept == null) return true
  return offered.publisher === kept.publisher && offered.issued > kept.issued
}

/** Wire check of a floor cert field (the signature is checked where it is used) */
export function parseFloorCert (value: unknown): FloorCert | undefined | false {
  if (value === undefined) return undefined
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false
  const { publisher, floor, issued, sig } = value as Record<string, unknown>
  if (typeof publisher !== 'string' || publisher.length > 128) return false
  if (typeof floor !== 'number' || !Number.isInteger(floor) || floor < 0 || floor > MAX_FLOOR) return false
  if (typeof issued !== 'number' || !Number.isSafeInteger(issued) || issued < 0) return false
  if (typeof sig !== 'string' || sig.length > 512 || !/^[A-Za-z0-9_-]*$/.test(sig)) return false
  return { publisher, floor, issued, sig }
}
