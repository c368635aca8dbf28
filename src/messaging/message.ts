import { randomBytes } from 'node:crypto'
import { peerIdFromString } from '@libp2p/peer-id'
import type { PrivateKey } from '@libp2p/interface'
import { MessagingError } from './errors.js'

/** Text of one message, in UTF-8 bytes; a photo goes as a share link, never inline */
export const MAX_TEXT_BYTES = 8 * 1024
export const MAX_FILE_NAME_LENGTH = 255
export const MAX_LINK_LENGTH = 1024
const SIGNING_DOMAIN = 'kizuna-msg-v1'

export interface FileRef { link: string, name: string, size: number }

/** A direct message as it travels: everything but `sig` is covered by the author's signature */
export interface DirectMessage {
  id: string
  from: string
  to: string
  /** per (sender, recipient) pair, from 1: lets the receiver drop replays and order arrivals */
  seq: number
  sentAt: number
  text: string
  file?: FileRef
  /** base64 Ed25519 signature by `from`'s libp2p key over signingBytes() */
  sig: string
}

export type UnsignedMessage = Omit<DirectMessage, 'sig'>

export function newMessageId (): string {
  return randomBytes(16).toString('hex')
}

/** A fixed-order array, so both ends serialise the signed fields byte for byte alike */
export function signingBytes (m: UnsignedMessage): Uint8Array {
  return new TextEncoder().encode(JSON.stringify([SIGNING_DOMAIN, m.id, m.from, m.to, m.seq, m.sentAt, m.text, m.file?.link ?? null, m.file?.name ?? null, m.file?.size ?? null]))
}

export function checkText (text: string): void {
  const bytes = Buffer.byteLength(text, 'utf8')
  if (bytes > MAX_TEXT_BYTES) {
    throw new MessagingError('ERR_MESSAGE_TOO_LARGE', `message text is ${bytes} bytes, more than the ${MAX_TEXT_BYTES} allowed; send a long text as a file (--file)`)
  }
}

export async function signMessage (message: UnsignedMessage, key: PrivateKey): Promise<DirectMessage> {
  checkText(message.text)
  const sig = await key.sign(signingBytes(message))
  return { ...message, sig: Buffer.from(sig).toString('base64') }
}

/** Throws ERR_BAD_SIGNATURE unless `from`'s own key (inside its peer id) signed the message */
export async function verifyMessage (message: DirectMessage): Promise<void> {
  let publicKey
  try {
    publicKey = peerIdFromString(message.from).publicKey
  } catch (err) {
    throw new MessagingError('ERR_BAD_SIGNATURE', `sender ${message.from.slice(0, 60)} is not a peer id`, { cause: err })
  }
  if (publicKey == null) {
    throw new MessagingError('ERR_BAD_SIGNATURE', 'sender peer id carries no public key')
  }
  const ok = await publicKey.verify(signingBytes(message), Buffer.from(message.sig, 'base64'))
  if (!ok) {
    throw new MessagingError('ERR_BAD_SIGNATURE', `message ${message.id} is not signed by ${message.from}`)
  }
}
