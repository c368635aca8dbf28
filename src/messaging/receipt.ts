import { peerIdFromString } from '@libp2p/peer-id'
import type { PeerId, PrivateKey } from '@libp2p/interface'
import { MessagingError } from './errors.js'

const RECEIPT_DOMAIN = 'kizuna-receipt-v1'
export type ReceiptStatus = 'delivered' | 'read'

/** Fixed-order bytes: who (the reader) tells whom (the sender) that these ids reached `status` */
export function receiptBytes (status: ReceiptStatus, reader: string, sender: string, ids: string[]): Uint8Array {
  return new TextEncoder().encode(JSON.stringify([RECEIPT_DOMAIN, status, reader, sender, ids]))
}

/** base64 Ed25519 signature by the reader's libp2p key */
export async function signReceipt (key: PrivateKey, status: ReceiptStatus, reader: string, sender: string, ids: string[]): Promise<string> {
  return Buffer.from(await key.sign(receiptBytes(status, reader, sender, ids))).toString('base64')
}

/** Throws ERR_BAD_SIGNATURE unless `reader`'s own key signed this receipt for us */
export async function verifyReceipt (reader: PeerId, sender: string, status: ReceiptStatus, ids: string[], sig: string): Promise<void> {
  const publicKey = peerIdFromString(reader.toString()).publicKey
  const ok = publicKey != null && await publicKey.verify(receiptBytes(status, reader.toString(), sender, ids), Buffer.from(sig, 'base64'))
  if (!ok) throw new MessagingError('ERR_BAD_SIGNATURE', `receipt for ${ids.length} message(s) is not signed by ${reader.toString()}`)
}
