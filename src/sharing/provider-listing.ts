import type { CID } from 'multiformats/cid'
import type { KizunaLibp2p } from '../libp2p/types.js'
import type { ExchangeClient } from '../exchange/client/client.js'
import type { ContentStore } from '../content/index.js'
import type { PenaltyBox } from './penalties.js'
import { findProviders, HAVE_QUERY_TIMEOUT_MS, type ProviderOrigin } from './provider-source.js'
import { timeoutSignal } from '../util/timeout-signal.js'

/** `kizuna providers` searches this long by default */
export const DEFAULT_PROVIDERS_TIMEOUT_MS = 10_000

export interface ProviderSummary {
  peerId: string
  origin: ProviderOrigin | 'self'
  has: 'partial' | 'full'
  addrs: string[]
}

export interface ProviderListingComponents {
  libp2p: KizunaLibp2p
  client: ExchangeClient
  penalties: PenaltyBox
  content: ContentStore
}

/**
 * `kizuna providers CID`: who holds it now. A DHT record outlives the copy it announced (it
 * expires on its own, hours later), so a peer found only in the DHT is asked directly and
 * listed only if it says it holds some of it.
 */
export async function listProviders (root: CID, components: ProviderListingComponents, options: { signal?: AbortSignal } = {}): Promise<ProviderSummary[]> {
  const { libp2p, client, penalties, content } = components
  const signal = options.signal ?? timeoutSignal(DEFAULT_PROVIDERS_TIMEOUT_MS)
  const found: ProviderSummary[] = []
  const self = await content.stat(root).catch(() => undefined)
  if (self?.complete === true) {
    found.push({ peerId: libp2p.peerId.toString(), origin: 'self', has: 'full', addrs: libp2p.getMultiaddrs().map(ma => ma.toString()) })
  }
  const checks: Array<Promise<void>> = []
  for await (const provider of findProviders(root, { libp2p, client, penalties }, { signal, dhtRounds: 1 })) {
    checks.push((async () => {
      let has = provider.has
      if (has == null) {
        const querySignal = AbortSignal.any([signal, timeoutSignal(HAVE_QUERY_TIMEOUT_MS)])
        const answer = await client.queryHave(provider.peerId, root, { signal: querySignal }).catch(() => undefined)
        if (answer == null || answer.has === 'none') return
        has = answer.has
      }
      const peer = await libp2p.peerStore.get(provider.peerId).catch(() => undefined)
      found.push({ peerId: provider.peerId.toString(), origin: provider.origin, has, addrs: peer?.addresses.map(a => a.multiaddr.toString()) ?? [] })
    })())
  }
  await Promise.all(checks)
  return found
}
