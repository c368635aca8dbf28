import { randomBytes, timingSafeEqual } from 'node:crypto'

/** A login ticket printed by `kizuna ui` works once, and only this soon */
export const LOGIN_TICKET_TTL_MS = 2 * 60_000
/** A browser session lasts this long without a new `kizuna ui` */
export const SESSION_TTL_MS = 7 * 24 * 3600_000
/** Bounds on what a flood of `kizuna ui` calls can make the daemon remember */
export const MAX_SESSIONS = 32
export const MAX_TICKETS = 16

function secret (): string {
  return randomBytes(32).toString('base64url')
}

function sameSecret (given: string, expected: string): boolean {
  const a = Buffer.from(given)
  const b = Buffer.from(expected)
  return a.length === b.length && timingSafeEqual(a, b)
}

/**
 * Dashboard logins, like Jupyter's: the CLI (holding the API token) asks for a one-use ticket,
 * the browser opens the URL carrying it, and the daemon trades it for an HttpOnly,
 * SameSite=Strict session cookie. Neither the API token nor the session id is ever in a page,
 * and the URL in the browser's history is dead once used.
 */
export class Sessions {
  private readonly tickets = new Map<string, number>()
  private readonly sessions = new Map<string, number>()

  constructor (private readonly now: () => number = Date.now) {}

  issueTicket (): string {
    this.prune(this.tickets)
    if (this.tickets.size >= MAX_TICKETS) this.tickets.delete(this.tickets.keys().next().value!)
    const ticket = secret()
    this.tickets.set(ticket, this.now() + LOGIN_TICKET_TTL_MS)
    return ticket
  }

  /** Trades a ticket for a new session id; undefined when the ticket is unknown, used or stale */
  redeem (ticket: string): string | undefined {
    for (const [known, expires] of this.tickets) {
      if (sameSecret(ticket, known)) {
        this.tickets.delete(known)
        if (expires < this.now()) return undefined
        this.prune(this.sessions)
        if (this.sessions.size >= MAX_SESSIONS) this.sessions.delete(this.sessions.keys().next().value!)
        const session = secret()
        this.sessions.set(session, this.now() + SESSION_TTL_MS)
        return session
      }
    }
    return undefined
  }

  valid (session: string | undefined): boolean {
    if (session == null || session === '') return false
    for (const [known, expires] of this.sessions) {
      if (sameSecret(session, known)) return expires >= this.now()
    }
    return false
  }

  end (session: string | undefined): void {
    for (const known of this.sessions.keys()) {
      if (session != null && sameSecret(session, known)) this.sessions.delete(known)
    }
  }

  private prune (map: Map<string, number>): void {
    const now = this.now()
    for (const [key, expires] of map) if (expires < now) map.delete(key)
  }
}

/** Cookies are shared by every port of a host: the name carries the port so two daemons never clash */
export function sessionCookieName (port: number): string {
  return `kizuna_session_${port}`
}

export function readCookie (header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=')
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim()
  }
  return undefined
}

export function sessionCookie (name: string, value: string): string {
  return `${name}=${value}; HttpOnly; SameSite=Strict; Path=/; Max-Age=${Math.floor(SESSION_TTL_MS / 1000)}`
}
