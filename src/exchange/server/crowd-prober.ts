import { base32 } from 'multiformats/bases/base32'
import { rawCidFromMultihash } from '../../content/blocks/block-key.js'
import { verifyBlock } from '../../content/blocks/verify.js'
import type { WantResult } from '../client/peer-channel.js'
import type { ProbeOutcome } from './crowd-spreader.js'
import type { AbortOptions, PeerId } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'
import { timeoutSignal } from '../../util/timeout-signal.js'

/** A probe not answered in this long counts as not served */
export const PROBE_TIMEOUT_MS = 10_000

/** What a prober needs: an exchange client (ExchangeClient fits) */
export interface ProbeClient {
  want(peer: PeerId, cid: CID, options?: AbortOptions): Promise<WantResult>
}

/**
 * Does `peer` serve? We ask it for a block we sent it and check the bytes. A peer that asks for
 * everything and serves nothing fails, and so never makes a crowd others are referred to (see
 * crowd-spreader.ts). DONT_HAVE, REFER or BUSY says 'lacks': the block may still be on its way
 * to it (or it is loaded), so it is asked again later without counting as a failure. Costs one
 * block per peer per PROVEN_FOR_MS at most.
 */
export async function probeServes (client: ProbeClient, peer: PeerId, blockKey: string, options: AbortOptions = {}): Promise<ProbeOutcome> {
  const cid = rawCidFromMultihash(base32.baseDecode(blockKey))
  const signal = options.signal === undefined ? timeoutSignal(PROBE_TIMEOUT_MS) : AbortSignal.any([options.signal, timeoutSignal(PROBE_TIMEOUT_MS)])
  try {
    const result = await client.want(peer, cid, { signal })
    if (result.type === 'dont-have' || result.type === 'refer' || result.type === 'busy') return 'lacks'
    if (result.type !== 'block') return 'failed'
    verifyBlock(cid, result.bytes)
    return 'served'
  } catch {
    return 'failed'
  }
}
