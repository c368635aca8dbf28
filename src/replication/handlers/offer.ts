import type { PeerId } from '@libp2p/interface'
import type { OfferMessage, OfferReplyMessage } from '../codec.js'
import type { OfferIntake } from '../offer-intake.js'

/** "Will you keep a copy of this root?": the offer intake decides and starts the fetch */
export async function handleOffer (message: OfferMessage, from: PeerId, intake: OfferIntake, signal: AbortSignal): Promise<OfferReplyMessage> {
  return await intake.consider(message, from, signal)
}
