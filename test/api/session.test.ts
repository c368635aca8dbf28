import { describe, expect, it } from 'vitest'
import { LOGIN_TICKET_TTL_MS, MAX_SESSIONS, Sessions, readCookie, sessionCookie, sessionCookieName } from '../../src/api/session.js'
import { PUBLIC_PATHS, bearerMatches, loopbackHosts } from '../../src/api/guard.js'
import { safeUploadName } from '../../src/api/routes/ui.js'

describe('dashboard sessions', () => {
  it('a ticket works once and only before it expires', () => {
    let now = 1_000
    const sessions = new Sessions(() => now)
    const ticket = sessions.issueTicket()
    const session = sessions.redeem(ticket)
    expect(session).toMatch(/^[\w-]{43}$/)
    expect(sessions.valid(session)).toBe(true)
    expect(sessions.redeem(ticket)).toBeUndefined()
    const late = sessions.issueTicket()
    now += LOGIN_TICKET_TTL_MS + 1
    expect(sessions.redeem(late)).toBeUndefined()
    expect(sessions.redeem('')).toBeUndefined()
    expect(sessions.valid('not-a-session')).toBe(false)
    expect(sessions.valid(undefined)).toBe(false)
    sessions.end(session)
    expect(sessions.valid(session)).toBe(false)
  })

  it('keeps a bounded number of sessions, dropping the oldest', () => {
    const sessions = new Sessions()
    const made = Array.from({ length: MAX_SESSIONS + 3 }, () => sessions.redeem(sessions.issueTicket())!)
    expect(sessions.valid(made[0])).toBe(false)
    expect(sessions.valid(made[made.length - 1])).toBe(true)
  })

  it('cookies: named per port, HttpOnly and SameSite=Strict, read back from a Cookie header', () => {
    expect(sessionCookieName(4010)).toBe('kizuna_session_4010')
    const header = sessionCookie('kizuna_session_4010', 'abc')
    expect(header).toContain('HttpOnly')
    expect(header).toContain('SameSite=Strict')
    expect(readCookie('x=1; kizuna_session_4010=abc; kizuna_session_4011=zzz', 'kizuna_session_4010')).toBe('abc')
    expect(readCookie('kizuna_session_40100=abc', 'kizuna_session_4010')).toBeUndefined()
    expect(readCookie(undefined, 'a')).toBeUndefined()
  })
})

describe('request guard rules', () => {
  it.each([
    ['/', true], ['/ui/', true], ['/ui', true], ['/ui/login?ticket=x', true], ['/ui/assets/app.js', true],
    ['/ui/assets/../../etc/passwd', false], ['/api/v0/status', false], ['/metrics', false], ['/ui/other', false]
  ])('public path %s: %s', (path, expected) => {
    expect(PUBLIC_PATHS.test(path)).toBe(expected)
  })

  it('bearer tokens match exactly', () => {
    expect(bearerMatches('Bearer secret', 'secret')).toBe(true)
    expect(bearerMatches('Bearer secre', 'secret')).toBe(false)
    expect(bearerMatches('secret', 'secret')).toBe(false)
    expect(bearerMatches(undefined, 'secret')).toBe(false)
  })

  it('answers only to loopback Host values of its own port', () => {
    const hosts = loopbackHosts(5010)
    expect(hosts.has('127.0.0.1:5010')).toBe(true)
    expect(hosts.has('localhost:5010')).toBe(true)
    expect(hosts.has('evil.example:5010')).toBe(false)
    expect(hosts.has('127.0.0.1:5011')).toBe(false)
  })

  it.each([
    ['photo.jpg', 'photo.jpg'], ['../../etc/passwd', 'passwd'], ['C:\\x\\y.txt', 'y.txt'], ['..', 'upload'],
    ['', 'upload'], [undefined, 'upload'], ['a\u0000b\nc', 'abc'], ['x'.repeat(300), 'x'.repeat(200)]
  ])('upload name %j becomes %j', (given, expected) => {
    expect(safeUploadName(given)).toBe(expected)
  })
})
