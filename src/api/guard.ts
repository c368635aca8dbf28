import { timingSafeEqual } from 'node:crypto'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { readCookie, sessionCookieName, type Sessions } from './session.js'

/** Paths anyone on the machine may load: the login exchange and the dashboard's static files */
export const PUBLIC_PATHS = /^(\/|\/ui(\/(login|assets\/[\w.-]+))?\/?)(\?.*)?$/

export function bearerMatches (header: string | undefined, token: string): boolean {
  const match = /^Bearer (.+)$/.exec(header ?? '')
  if (match == null) return false
  const given = Buffer.from(match[1])
  const expected = Buffer.from(token)
  return given.length === expected.length && timingSafeEqual(given, expected)
}

/** The Host values a loopback API answers to: anything else is a DNS-rebinding attempt */
export function loopbackHosts (port: number): Set<string> {
  return new Set([`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`])
}

export interface GuardOptions {
  token: string
  sessions: Sessions
  /** the bound port and HOST:PORT (known after listen) */
  port: () => number
  address: () => string | undefined
}

/**
 * Every request: the Host must be our loopback address (DNS rebinding), a cross-origin
 * request is refused outright (no CORS, so no preflight ever succeeds), and the caller needs
 * the bearer token or a dashboard session cookie; a cookie-carried write must come from our
 * own origin, since other ports of 127.0.0.1 are the "same site" for SameSite cookies.
 */
export function requestGuard (options: GuardOptions): (request: FastifyRequest, reply: FastifyReply) => Promise<void> {
  return async (request, reply) => {
    const port = options.port()
    const hosts = loopbackHosts(port)
    const bound = options.address()
    if (bound != null) hosts.add(bound)
    const host = request.headers.host ?? ''
    if (!hosts.has(host)) {
      await reply.code(403).send({ code: 'ERR_BAD_HOST', message: `this API answers only to ${[...hosts].join(', ')}` })
      return
    }
    const origin = request.headers.origin
    const sameOrigin = origin != null && [...hosts].some(h => origin === `http://${h}`)
    if ((origin != null && !sameOrigin) || request.method === 'OPTIONS') {
      await reply.code(403).send({ code: 'ERR_CROSS_ORIGIN', message: 'cross-origin requests are refused' })
      return
    }
    if (PUBLIC_PATHS.test(request.url) && (request.method === 'GET' || request.method === 'HEAD')) return
    if (bearerMatches(request.headers.authorization, options.token)) return
    const session = readCookie(request.headers.cookie, sessionCookieName(port))
    if (options.sessions.valid(session)) {
      const safe = request.method === 'GET' || request.method === 'HEAD'
      if (safe || sameOrigin) return
      await reply.code(403).send({ code: 'ERR_CROSS_ORIGIN', message: 'a dashboard write must carry our Origin' })
      return
    }
    await reply.code(401).send({ code: 'ERR_UNAUTHORIZED', message: 'missing or wrong API token (Authorization: Bearer <token from the repo\'s api.token>), or no dashboard session (run `kizuna ui`)' })
  }
}
