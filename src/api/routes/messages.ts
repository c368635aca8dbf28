import { isAbsolute } from 'node:path'
import type { FastifyInstance } from 'fastify'
import type { KizunaNode } from '../../node/node.js'
import { KizunaError } from '../../errors.js'
import { API_PREFIX } from '../constants.js'
import { sendEventStream } from '../event-stream.js'

function text (value: unknown, field: string): string {
  if (typeof value !== 'string') throw new KizunaError('ERR_BAD_REQUEST', `"${field}" must be a string`)
  return value
}

/** Contacts, direct messages (watch streams NDJSON) and topics (sub streams NDJSON) */
export function registerMessageRoutes (app: FastifyInstance, node: KizunaNode): void {
  app.get(`${API_PREFIX}/contacts`, async () => node.contacts())

  app.post(`${API_PREFIX}/contacts/add`, async (request) => {
    const body = (request.body ?? {}) as { name?: unknown, peerId?: unknown }
    return node.contactAdd(text(body.name, 'name'), text(body.peerId, 'peerId'))
  })

  app.post(`${API_PREFIX}/contacts/rm`, async (request) => {
    const body = (request.body ?? {}) as { name?: unknown }
    return node.contactRemove(text(body.name, 'name'))
  })

  app.post(`${API_PREFIX}/msg/send`, async (request) => {
    const body = (request.body ?? {}) as { to?: unknown, text?: unknown, file?: unknown }
    let file: string | undefined
    if (body.file != null) {
      file = text(body.file, 'file')
      if (!isAbsolute(file)) throw new KizunaError('ERR_BAD_REQUEST', `"file" must be absolute (the daemon does not know the caller's working directory): ${file}`)
    }
    return node.sendMessage(text(body.to, 'to'), text(body.text, 'text'), { file })
  })

  app.get(`${API_PREFIX}/msg/ls`, async (request) => {
    const { peer } = request.query as { peer?: string }
    return node.messages(peer != null && peer !== '' ? peer : undefined)
  })

  app.post(`${API_PREFIX}/msg/watch`, async (_request, reply) => {
    const controller = new AbortController()
    const events = node.watchMessages({ signal: controller.signal })
    // the watch starts at once; the first line tells the client it is live
    await sendEventStream(reply, (async function * () {
      yield { type: 'watching' }
      yield * events
    })(), () => { controller.abort() })
  })

  app.get(`${API_PREFIX}/msg/mailbox`, async () => node.mailboxStats())

  app.post(`${API_PREFIX}/msg/drain`, async () => ({ received: await node.drainMailbox() }))

  app.post(`${API_PREFIX}/pub`, async (request) => {
    const body = (request.body ?? {}) as { topic?: unknown, text?: unknown }
    return node.publish(text(body.topic, 'topic'), text(body.text, 'text'))
  })

  app.post(`${API_PREFIX}/sub`, async (request, reply) => {
    const body = (request.body ?? {}) as { topic?: unknown }
    const topic = text(body.topic, 'topic')
    const controller = new AbortController()
    const messages = node.subscribe(topic, { signal: controller.signal })
    // the subscription starts at once, so a publish right after this answer is not missed
    await sendEventStream(reply, (async function * () {
      yield { type: 'subscribed', topic }
      for await (const message of messages) yield { type: 'message', ...message }
    })(), () => { controller.abort() })
  })
}
