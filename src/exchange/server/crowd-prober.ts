import { base32 } from 'multiformats/bases/base32'
import { rawCidFromMultihash } from '../../content/blocks/block-key.js'
import { verifyBlock } from '../../content/blocks/verify.js'
import type { WantResult } from '../client/peer-channel.js'
import type { AbortOptions, PeerId } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'

/** A probe not answered in this long counts as not served */
export const PROBE_TIMEOUT_MS = 10_000

/** What a prober needs: an exchange client (ExchangeClient fits) */
export interface ProbeClient {
  want(peer: PeerId, cid: CID, options?: AbortOptions): Promise<WantResult>
}

/**
 * Does `peer` serve? We ask it for a block we sent it and check the bytes. A peer that asks for
 * everything and serves nothing (or refers us on) fails, and so never makes a crowd others are
 * referred to (see crowd-spreader.ts). Costs one block per peer per PROVEN_FOR_MS at most.
 */
export async function probeServes (client: ProbeClient, peer: PeerId, blockKey: string, options: AbortOptions = {}): Promise<boolean> {
  const cid = rawCidFromMultihash(base32.baseDecode(blockKey))
  const signal = options.signal === undefined ? AbortSignal.timeout(PROBE_TIMEOUT_MS) : AbortSignal.any([options.signal, AbortSignal.timeout(PROBE_TIMEOUT_MS)])
  try {
    const result = await client.want(peer, cid, { signal })
    if (result.type !== 'block') return false
    verifyBlock(cid, result.bytes)
    return true
  } catch {
    return false
  }
}
