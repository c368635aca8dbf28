import { KizunaError } from '../errors.js'

/** Codes a message sender or receiver can branch on; tests assert on them */
export type MessagingErrorCode =
  | 'ERR_UNKNOWN_CONTACT'
  | 'ERR_BAD_CONTACT'
  | 'ERR_MESSAGE_TOO_LARGE'
  | 'ERR_BAD_SIGNATURE'
  | 'ERR_WRONG_RECIPIENT'
  | 'ERR_SEQUENCE_FROM_FUTURE'
  | 'ERR_MALFORMED_MESSAGE'
  | 'ERR_RATE_LIMITED'
  | 'ERR_QUOTA_EXCEEDED'
  | 'ERR_NOT_DELIVERED'
  | 'ERR_BAD_TOPIC'
  | 'ERR_SEAL_FAILED'

export class MessagingError extends KizunaError {
  constructor (code: MessagingErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options)
  }
}
