import http from 'node:http'
import type { FastifyInstance } from 'fastify'
import type { KizunaNode } from '../../node/node.js'
import { parseApiAddress } from '../../node/config.js'
import { KizunaError } from '../../errors.js'

/** GET /metrics on the API address: Prometheus text, behind the same token as the rest of the API */
export function registerMetricsRoutes (app: FastifyInstance, node: KizunaNode): void {
  app.get('/metrics', async (_request, reply) => {
    const { contentType, text } = await node.metrics()
    return reply.header('content-type', contentType).header('cache-control', 'no-store').send(text)
  })
}

/**
 * `daemon --metrics 127.0.0.1:PORT`: /metrics alone on its own loopback listener without a
 * token, for a local Prometheus that cannot hold a secret. Off unless asked for.
 */
export class MetricsListener {
  private server?: http.Server
  constructor (private readonly node: KizunaNode, private readonly listen: string) {}

  async start (): Promise<string> {
    const { host, port } = parseApiAddress(this.listen, '--metrics')
    const server = http.createServer((request, response) => {
      if (request.method !== 'GET' || request.url?.split('?')[0] !== '/metrics') {
        response.writeHead(404, { 'content-type': 'text/plain' }).end('only GET /metrics here\n')
        return
      }
      this.node.metrics().then(({ contentType, text }) => {
        response.writeHead(200, { 'content-type': contentType, 'cache-control': 'no-store' }).end(text)
      }, (err: Error) => {
        response.writeHead(500, { 'content-type': 'text/plain' }).end(`${err.message}\n`)
      })
    })
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) => {
        reject(err.code === 'EADDRINUSE'
          ? new KizunaError('ERR_ADDRESS_IN_USE', `metrics address ${this.listen} is already in use; pick another with --metrics HOST:PORT`)
          : err)
      })
      server.listen(port, host, () => { resolve() })
    })
    this.server = server
    const bound = server.address() as { address: string, port: number, family: string }
    return `${bound.family === 'IPv6' ? `[${bound.address}]` : bound.address}:${bound.port}`
  }

  async stop (): Promise<void> {
    const server = this.server
    this.server = undefined
    if (server == null) return
    server.closeAllConnections()
    await new Promise<void>(resolve => { server.close(() => { resolve() }) })
  }
}
