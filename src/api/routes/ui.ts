import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { mkdir, rm } from 'node:fs/promises'
import { createWriteStream } from 'node:fs'
import { randomBytes } from 'node:crypto'
import { join, extname } from 'node:path'
import { pipeline } from 'node:stream/promises'
import type { Readable } from 'node:stream'
import type { FastifyInstance } from 'fastify'
import type { KizunaNode } from '../../node/node.js'
import { KizunaError } from '../../errors.js'
import { packageRoot } from '../../util/package-root.js'
import { API_PREFIX } from '../constants.js'
import { sendEventStream } from '../event-stream.js'
import { sessionCookie, sessionCookieName, readCookie, type Sessions } from '../session.js'
import type { AddEvent } from '../../sharing/events.js'

/** Where esbuild puts the dashboard (see scripts/build-ui.mjs) */
export const UI_DIST_DIR = join(packageRoot(), 'dist', 'ui')
/** Longest file name kept from an upload */
const MAX_UPLOAD_NAME = 200

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png'
}

/** The dashboard's own rules: only our scripts and styles, no framing, nothing from elsewhere */
const SECURITY_HEADERS = {
  'content-security-policy': "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY'
}

function loadAssets (): Map<string, Buffer> {
  const files = new Map<string, Buffer>()
  if (!existsSync(UI_DIST_DIR)) return files
  for (const name of ['index.html', 'login-failed.html']) {
    if (existsSync(join(UI_DIST_DIR, name))) files.set(name, readFileSync(join(UI_DIST_DIR, name)))
  }
  const assets = join(UI_DIST_DIR, 'assets')
  if (existsSync(assets)) {
    for (const name of readdirSync(assets)) files.set(`assets/${name}`, readFileSync(join(assets, name)))
  }
  return files
}

/** A browser's file name, made safe to use as the last part of a path */
export function safeUploadName (value: unknown): string {
  const name = (typeof value === 'string' ? value : '').split(/[\\/]/).pop() ?? ''
  // eslint-disable-next-line no-control-regex
  const cleaned = name.replace(/[\x00-\x1f\x7f]/g, '').trim().slice(0, MAX_UPLOAD_NAME)
  return cleaned === '' || cleaned === '.' || cleaned === '..' ? 'upload' : cleaned
}

export interface UiRouteOptions {
  sessions: Sessions
  port: () => number
}

/**
 * The dashboard: its static files, the login exchange, and the two things only a browser
 * needs (an upload endpoint taking the file's bytes, and a ticket for `kizuna ui`).
 */
export function registerUiRoutes (app: FastifyInstance, node: KizunaNode, options: UiRouteOptions): void {
  const files = loadAssets()
  const serve = (name: string) => async (_request: unknown, reply: import('fastify').FastifyReply) => {
    const body = files.get(name)
    if (body == null) {
      return reply.code(503).type('text/plain').send('the dashboard is not built: run `npm run build` in the kizuna package\n')
    }
    return reply.headers({ ...SECURITY_HEADERS, 'content-type': TYPES[extname(name)] ?? 'application/octet-stream', 'cache-control': name === 'index.html' ? 'no-store' : 'max-age=300' }).send(body)
  }
  app.get('/', async (_request, reply) => reply.redirect('/ui/'))
  app.get('/ui', async (_request, reply) => reply.redirect('/ui/'))
  app.get('/ui/', serve('index.html'))
  app.get('/ui/assets/:name', async (request, reply) => serve(`assets/${(request.params as { name: string }).name}`)(request, reply))

  app.get('/ui/login', async (request, reply) => {
    const ticket = (request.query as { ticket?: string }).ticket ?? ''
    const session = options.sessions.redeem(ticket)
    if (session == null) {
      return reply.code(401).headers(SECURITY_HEADERS).type('text/html; charset=utf-8')
        .send('<!doctype html><title>Kizuna: login failed</title><p>This login link is used or expired. Run <code>kizuna ui</code> again for a new one.</p>\n')
    }
    // 303 so the ticket leaves the address bar at once
    return reply.code(303).header('set-cookie', sessionCookie(sessionCookieName(options.port()), session)).header('cache-control', 'no-store').redirect('/ui/', 303)
  })

  app.post(`${API_PREFIX}/ui/logout`, async (request, reply) => {
    const name = sessionCookieName(options.port())
    options.sessions.end(readCookie(request.headers.cookie, name))
    return reply.header('set-cookie', `${name}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0`).send({ ok: true })
  })

  app.post(`${API_PREFIX}/ui/ticket`, async (request) => {
    // only the CLI (bearer token) may mint logins; a browser session may not extend itself
    if (!/^Bearer /.test(request.headers.authorization ?? '')) throw new KizunaError('ERR_FORBIDDEN', 'login tickets need the API token')
    const ticket = options.sessions.issueTicket()
    return { ticket, path: `/ui/login?ticket=${ticket}` }
  })

  app.get(`${API_PREFIX}/bandwidth`, async () => node.bandwidth())
  app.get(`${API_PREFIX}/transfers`, async () => node.transfers())

  // the body of an upload is the file itself, streamed to disk, never buffered whole
  app.addContentTypeParser('application/octet-stream', (_request, payload, done) => { done(null, payload) })
  app.post(`${API_PREFIX}/upload`, async (request, reply) => {
    const query = request.query as { name?: string, encrypt?: string, replicas?: string }
    const name = safeUploadName(query.name)
    const replicas = query.replicas != null ? Number(query.replicas) : undefined
    if (replicas !== undefined && (!Number.isInteger(replicas) || replicas < 1 || replicas > 64)) {
      throw new KizunaError('ERR_BAD_REQUEST', '"replicas" must be a whole number from 1 to 64')
    }
    if (request.headers['content-type'] !== 'application/octet-stream') {
      throw new KizunaError('ERR_BAD_REQUEST', 'an upload is the file\'s bytes as application/octet-stream')
    }
    const dir = join(node.repo.path, 'uploads', randomBytes(8).toString('hex'))
    await mkdir(dir, { recursive: true })
    const path = join(dir, name)
    try {
      await pipeline(request.body as Readable, createWriteStream(path, { flags: 'wx' }))
    } catch (err) {
      await rm(dir, { recursive: true, force: true })
      throw new KizunaError('ERR_UPLOAD_FAILED', `upload failed: ${(err as Error).message}`)
    }
    const controller = new AbortController()
    // the imported blocks live in the block store; the uploaded copy goes once the add ends
    const events = (async function * (): AsyncGenerator<AddEvent> {
      try {
        yield * node.add(path, { encrypt: query.encrypt === '1' || query.encrypt === 'true', replicas, signal: controller.signal })
      } finally {
        await rm(dir, { recursive: true, force: true })
      }
    })()
    await sendEventStream(reply, events, () => { controller.abort() })
  })
}
