import type { PeerId } from '@libp2p/interface'
import type { ReplicationMessage } from '../codec.js'
import type { OfferIntake } from '../offer-intake.js'
import { handleHolderQuery, type HolderQueryComponents } from './holder-query.js'
import { handleOffer } from './offer.js'

export interface HandlerComponents extends HolderQueryComponents {
  intake: OfferIntake
}

/** One handler per request kind (kad-dht's rpc/handlers); a reply kind sent as a request is refused */
export function replicationHandler (components: HandlerComponents, signal: AbortSignal): (message: ReplicationMessage, from: PeerId) => Promise<ReplicationMessage> {
  return async (message, from) => {
    switch (message.type) {
      case 'holder-query': return await handleHolderQuery(message, from, components)
      case 'offer': return await handleOffer(message, from, components.intake, signal)
      default: return { type: 'offer-reply', accepted: false, reason: 'unexpected message' }
    }
  }
}
