/** How much a mailbox holder keeps for others; every field bounds one hostile peer's share */
export interface MailboxLimits {
  /** envelopes kept for one recipient */
  perRecipientEnvelopes: number
  perRecipientBytes: number
  /** bytes kept for everyone together */
  totalBytes: number
  /** envelopes expire after at most this long, whatever the sender asked */
  maxTtlMs: number
  /** envelopes one depositing peer may store per minute (with a burst of as many) */
  depositsPerMinute: number
}

export const DEFAULT_MAILBOX_TTL_MS = 7 * 24 * 3600_000

export const DEFAULT_MAILBOX_LIMITS: MailboxLimits = {
  perRecipientEnvelopes: 1000,
  perRecipientBytes: 16 * 1024 * 1024,
  totalBytes: 256 * 1024 * 1024,
  maxTtlMs: DEFAULT_MAILBOX_TTL_MS,
  depositsPerMinute: 300
}

export interface MailboxUsage { recipientEnvelopes: number, recipientBytes: number, totalBytes: number }

export type Admission = { ok: true, expiresAt: number } | { ok: false, code: 'ERR_QUOTA_EXCEEDED' | 'ERR_EXPIRED', reason: string }

/** Whether a holder takes one more envelope of `bytes` for a recipient, and until when */
export function admitEnvelope (bytes: number, requestedExpiry: number, now: number, usage: MailboxUsage, limits: MailboxLimits): Admission {
  if (requestedExpiry <= now) return { ok: false, code: 'ERR_EXPIRED', reason: 'envelope already expired' }
  if (usage.recipientEnvelopes + 1 > limits.perRecipientEnvelopes) return { ok: false, code: 'ERR_QUOTA_EXCEEDED', reason: `recipient has ${limits.perRecipientEnvelopes} envelopes waiting` }
  if (usage.recipientBytes + bytes > limits.perRecipientBytes) return { ok: false, code: 'ERR_QUOTA_EXCEEDED', reason: 'recipient mailbox is full' }
  if (usage.totalBytes + bytes > limits.totalBytes) return { ok: false, code: 'ERR_QUOTA_EXCEEDED', reason: 'holder storage is full' }
  return { ok: true, expiresAt: Math.min(requestedExpiry, now + limits.maxTtlMs) }
}
