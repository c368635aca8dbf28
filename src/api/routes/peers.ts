import type { FastifyInstance } from 'fastify'
import type { KizunaNode } from '../../node/node.js'
import { KizunaError } from '../../errors.js'
import { API_PREFIX } from '../constants.js'

export function registerPeerRoutes (app: FastifyInstance, node: KizunaNode): void {
  app.get(`${API_PREFIX}/id`, async () => node.id())

  app.get(`${API_PREFIX}/peers`, async () => node.peers())

  app.get(`${API_PREFIX}/status`, async () => node.status())

  app.post(`${API_PREFIX}/connect`, async (request) => {
    const body = request.body as { addr?: unknown } | undefined
    if (typeof body?.addr !== 'string' || body.addr === '') {
      throw new KizunaError('ERR_BAD_REQUEST', 'body must be {"addr": "<multiaddr with /p2p/ID>"}')
    }
    return node.connect(body.addr)
  })

  app.post(`${API_PREFIX}/refresh`, async () => {
    await node.refresh()
    return node.peers()
  })
}
