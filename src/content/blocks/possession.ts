import { createHash, randomBytes } from 'node:crypto'

/** Bytes of the random challenge in a possession proof */
export const POSSESSION_NONCE_BYTES = 16

/**
 * Proof that a peer holds a block without sending it: sha256(nonce ‖ block). The nonce is
 * fresh per check, so the answer cannot be remembered from an earlier one, and only someone
 * holding the bytes (the prover now, the checker from its own copy) can compute it. A 64-byte
 * answer replaces shipping a whole block, which also kept the holder's crowd spreading from
 * ever mistaking a check for a download.
 */
export function possessionProof (nonceHex: string, block: Uint8Array): string {
  return createHash('sha256').update(Buffer.from(nonceHex, 'hex')).update(block).digest('hex')
}

export function newPossessionNonce (): string {
  return randomBytes(POSSESSION_NONCE_BYTES).toString('hex')
}
