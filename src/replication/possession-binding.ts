import { createHash } from 'node:crypto'
import type { PeerId } from '@libp2p/interface'
import { POSSESSION_NONCE_BYTES } from '../content/index.js'

/**
 * The nonce a prover hashes with the probed block: the checker's nonce mixed with the
 * prover's own peer id. The prover always uses its own id (never one named in the query) and
 * the checker verifies with the id of the authenticated connection the answer came on, so a
 * node holding nothing that relays the challenge to a real holder gets back a proof bound to
 * that holder, which fails for the relayer (docs/trust-model.md, "Replication").
 */
export function boundNonce (nonceHex: string, prover: PeerId): string {
  return createHash('sha256')
    .update('kizuna-possession/1\n')
    .update(Buffer.from(nonceHex, 'hex'))
    .update(prover.toMultihash().bytes)
    .digest()
    .subarray(0, POSSESSION_NONCE_BYTES)
    .toString('hex')
}
