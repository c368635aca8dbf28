import type { FastifyInstance } from 'fastify'
import type { KizunaNode } from '../../node/node.js'
import { KizunaError } from '../../errors.js'
import { API_PREFIX } from '../constants.js'

/**
 * GET /cat?target=CID|LINK: a file's bytes (`kizuna cat`, `get -o -`). The first chunk is read
 * before the status line goes out, so "not here", "a directory" or "needs the key" are real
 * HTTP errors rather than a truncated body.
 */
export function registerCatRoutes (app: FastifyInstance, node: KizunaNode): void {
  app.get(`${API_PREFIX}/cat`, async (request, reply) => {
    const target = (request.query as { target?: string }).target
    if (typeof target !== 'string' || target === '') throw new KizunaError('ERR_BAD_REQUEST', '"target" must be a CID or kizuna:// link')
    const controller = new AbortController()
    request.raw.socket.once('close', () => { controller.abort() })
    const chunks = node.cat(target, { signal: controller.signal })
    const first = await chunks.next()
    reply.hijack()
    const raw = reply.raw
    raw.writeHead(200, { 'content-type': 'application/octet-stream', 'cache-control': 'no-store' })
    try {
      if (first.done !== true) {
        if (!raw.write(first.value)) await drained(raw)
        for await (const chunk of chunks) {
          if (controller.signal.aborted) break
          if (!raw.write(chunk)) await drained(raw)
        }
      }
      raw.end()
    } catch {
      // the status is sent: a cut-off body is the only way left to say it failed
      raw.destroy()
    }
  })
}

async function drained (raw: NodeJS.WritableStream & { once: (e: string, f: () => void) => unknown }): Promise<void> {
  await new Promise<void>(resolve => { raw.once('drain', resolve); raw.once('close', resolve) })
}
