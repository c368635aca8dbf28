import type { FastifyInstance } from 'fastify'
import type { KizunaNode } from '../../node/node.js'
import type { ActivityEvent } from '../../telemetry/telemetry.js'
import { API_PREFIX } from '../constants.js'

/** Dashboard tabs streaming at once; more get 503 (each costs a listener and a socket) */
export const MAX_EVENT_CLIENTS = 16
/** A comment line this often keeps idle proxies and the browser from timing the stream out */
export const EVENT_HEARTBEAT_MS = 15_000
/** A client this far behind (bytes not yet flushed) misses events until it catches up */
export const EVENT_BACKLOG_BYTES = 1024 * 1024

/**
 * GET /events: the dashboard's live feed as server-sent events. A `snapshot` first (status,
 * peers, transfers, ten minutes of bandwidth), then each activity as it happens: the browser
 * never polls for them.
 */
export function registerEventRoutes (app: FastifyInstance, node: KizunaNode): void {
  let clients = 0
  app.get(`${API_PREFIX}/events`, async (request, reply) => {
    if (clients >= MAX_EVENT_CLIENTS) {
      return reply.code(503).send({ code: 'ERR_TOO_MANY_STREAMS', message: `at most ${MAX_EVENT_CLIENTS} event streams at once` })
    }
    clients++
    reply.hijack()
    const raw = reply.raw
    raw.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' })
    const send = (event: string, data: unknown): void => {
      if (raw.writableLength > EVENT_BACKLOG_BYTES) return
      raw.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`)
    }
    send('snapshot', snapshot(node))
    const unsubscribe = node.onActivity((event: ActivityEvent) => {
      // peer changes carry the fresh list, so the page never has to ask
      if (event.type === 'peer:joined' || event.type === 'peer:evicted' || event.type === 'peers:changed') {
        send(event.type, { ...event, peers: peerList(node), status: node.status() })
      } else {
        send(event.type, event)
      }
    })
    const heartbeat = setInterval(() => { raw.write(': keep-alive\n\n') }, EVENT_HEARTBEAT_MS)
    request.raw.socket.once('close', () => {
      clients--
      clearInterval(heartbeat)
      unsubscribe()
    })
  })
}

export function peerList (node: KizunaNode): Array<ReturnType<KizunaNode['peers']>[number] & { connected: boolean }> {
  const connected = node.connectedPeerIds()
  return node.peers().map(p => ({ ...p, connected: connected.has(p.peerId) }))
}

function snapshot (node: KizunaNode): object {
  return { status: node.status(), peers: peerList(node), transfers: node.transfers(), bandwidth: node.bandwidth().history, peerEvents: node.recentPeerEvents() }
}
