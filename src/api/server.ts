import Fastify, { type FastifyInstance } from 'fastify'
import { KizunaError } from '../errors.js'
import { parseApiAddress } from '../node/config.js'
import type { KizunaNode } from '../node/node.js'
import { registerPeerRoutes } from './routes/peers.js'
import { registerContentRoutes } from './routes/content.js'
import { registerMessageRoutes } from './routes/messages.js'
import { API_BODY_LIMIT, API_PREFIX } from './constants.js'
import { requestGuard } from './guard.js'
import { Sessions } from './session.js'
import { registerMetricsRoutes } from './routes/metrics.js'
import { registerEventRoutes } from './routes/events.js'
import { registerUiRoutes } from './routes/ui.js'
import { registerCatRoutes } from './routes/cat.js'


export interface ApiServerOptions {
  node: KizunaNode
  token: string
  /** HOST:PORT; port 0 picks a free port */
  listen: string
  /** Called by POST /stop after the reply is sent */
  onStop: () => void
  /** Extra route sets (content, replication...) registered by later layers */
  routes?: Array<(app: FastifyInstance, node: KizunaNode) => void>
}

/**
 * The API declares no JSON schemas, so fastify's default compilers (ajv and fast-json-stringify)
 * are never built: loading them cost every daemon ~2.5 MB of heap (measured) and their start time
 */
const NO_SCHEMAS = { compilersFactory: { buildValidator: refuseSchemas, buildSerializer: refuseSchemas } }
function refuseSchemas (): never {
  throw new KizunaError('ERR_INTERNAL', 'the API declares no JSON schemas (see NO_SCHEMAS)')
}

/**
 * The daemon's control API, like Kubo's: loopback only, every request needs the bearer token
 * kept in the repo (so only users who can read the repo can drive the node).
 */
export class ApiServer {
  private readonly options: ApiServerOptions
  private app?: FastifyInstance
  private boundAddress?: string
  private boundPort = 0
  /** dashboard logins (see session.ts) */
  readonly sessions = new Sessions()

  constructor (options: ApiServerOptions) {
    this.options = options
  }

  /** HOST:PORT actually bound (after start) */
  get address (): string {
    if (this.boundAddress == null) {
      throw new KizunaError('ERR_NOT_STARTED', 'API server is not started')
    }
    return this.boundAddress
  }

  async start (): Promise<void> {
    if (this.app != null) {
      return
    }
    const { host, port } = parseApiAddress(this.options.listen)
    const app = Fastify({ bodyLimit: API_BODY_LIMIT, logger: false, schemaController: NO_SCHEMAS })
    app.addHook('onRequest', requestGuard({ token: this.options.token, sessions: this.sessions, port: () => this.boundPort, address: () => this.boundAddress }))
    app.setErrorHandler(async (error: Error & { statusCode?: number, code?: string, validation?: unknown }, _request, reply) => {
      if (error instanceof KizunaError) {
        const status = 'status' in error && typeof error.status === 'number' ? error.status : 400
        return reply.code(status).send({ code: error.code, message: error.message })
      }
      const status = error.statusCode ?? 500
      return reply.code(status).send({ code: error.code ?? (status >= 500 ? 'ERR_INTERNAL' : 'ERR_BAD_REQUEST'), message: error.message })
    })
    app.setNotFoundHandler(async (request, reply) => {
      return reply.code(404).send({ code: 'ERR_NOT_FOUND', message: `no API route ${request.method} ${request.url}` })
    })
    app.get(`${API_PREFIX}/health`, async () => ({ ok: true }))
    app.post(`${API_PREFIX}/stop`, async (_request, reply) => {
      reply.raw.on('finish', () => { this.options.onStop() })
      return { stopping: true }
    })
    registerPeerRoutes(app, this.options.node)
    registerContentRoutes(app, this.options.node)
    registerMessageRoutes(app, this.options.node)
    registerMetricsRoutes(app, this.options.node)
    registerEventRoutes(app, this.options.node)
    registerCatRoutes(app, this.options.node)
    registerUiRoutes(app, this.options.node, { sessions: this.sessions, port: () => this.boundPort })
    for (const register of this.options.routes ?? []) {
      register(app, this.options.node)
    }
    try {
      await app.listen({ host, port })
    } catch (err) {
      await app.close().catch(() => {})
      if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') {
        throw new KizunaError('ERR_ADDRESS_IN_USE', `API address ${this.options.listen} is already in use; pick another with --api HOST:PORT`, { cause: err })
      }
      throw err
    }
    const bound = app.server.address()
    if (bound == null || typeof bound === 'string') {
      throw new KizunaError('ERR_API_BIND', 'API server did not report its address')
    }
    this.boundPort = bound.port
    this.boundAddress = `${bound.family === 'IPv6' ? `[${bound.address}]` : bound.address}:${bound.port}`
    this.app = app
  }

  async stop (): Promise<void> {
    const app = this.app
    this.app = undefined
    await app?.close()
  }
}
