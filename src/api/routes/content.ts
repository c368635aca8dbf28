import { isAbsolute } from 'node:path'
import type { FastifyInstance } from 'fastify'
import type { KizunaNode } from '../../node/node.js'
import { KizunaError } from '../../errors.js'
import { API_PREFIX } from '../constants.js'
import { sendEventStream } from '../event-stream.js'
import { parseCid } from '../../links/share-link.js'
import { DEFAULT_PROVIDERS_TIMEOUT_MS } from '../../sharing/provider-listing.js'
import { isReplicaCount, MAX_REPLICAS, MIN_REPLICAS } from '../../node/config.js'
import { timeoutSignal } from '../../util/timeout-signal.js'

function absolutePath (value: unknown, field: string): string {
  if (typeof value !== 'string' || value === '') {
    throw new KizunaError('ERR_BAD_REQUEST', `"${field}" must be a path`)
  }
  if (!isAbsolute(value)) {
    throw new KizunaError('ERR_BAD_REQUEST', `"${field}" must be absolute (the daemon does not know the caller's working directory): ${value}`)
  }
  if (value.includes('\0')) {
    throw new KizunaError('ERR_BAD_REQUEST', `"${field}" contains a NUL byte`)
  }
  return value
}

function optionalPositive (value: unknown, field: string): number | undefined {
  if (value == null) return undefined
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new KizunaError('ERR_BAD_REQUEST', `"${field}" must be a positive number`)
  }
  return value
}

export function registerContentRoutes (app: FastifyInstance, node: KizunaNode): void {
  app.post(`${API_PREFIX}/add`, async (request, reply) => {
    const body = (request.body ?? {}) as { path?: unknown, encrypt?: unknown, replicas?: unknown }
    const path = absolutePath(body.path, 'path')
    if (body.replicas != null && !isReplicaCount(body.replicas)) {
      throw new KizunaError('ERR_BAD_REQUEST', `"replicas" must be a whole number from ${MIN_REPLICAS} to ${MAX_REPLICAS}`)
    }
    const controller = new AbortController()
    const events = node.add(path, { encrypt: body.encrypt === true, replicas: body.replicas as number | undefined, signal: controller.signal })
    await sendEventStream(reply, events, () => { controller.abort() })
  })

  app.post(`${API_PREFIX}/get`, async (request, reply) => {
    const body = (request.body ?? {}) as { target?: unknown, output?: unknown, force?: unknown, timeoutMs?: unknown, pin?: unknown }
    if (typeof body.target !== 'string' || body.target === '') {
      throw new KizunaError('ERR_BAD_REQUEST', '"target" must be a CID or kizuna:// link')
    }
    const output = body.output == null ? undefined : absolutePath(body.output, 'output')
    const providerTimeoutMs = optionalPositive(body.timeoutMs, 'timeoutMs')
    const maxOutputBytes = optionalPositive((body as { maxOutputBytes?: unknown }).maxOutputBytes, 'maxOutputBytes')
    const controller = new AbortController()
    const events = node.get(body.target, { output, force: body.force === true, pin: body.pin === true, providerTimeoutMs, maxOutputBytes, signal: controller.signal })
    await sendEventStream(reply, events, () => { controller.abort() })
  })

  app.get(`${API_PREFIX}/providers/:cid`, async (request) => {
    const cid = parseCid((request.params as { cid: string }).cid)
    const query = request.query as { timeoutMs?: string }
    const timeoutMs = query.timeoutMs != null ? optionalPositive(Number(query.timeoutMs), 'timeoutMs') : undefined
    return node.providers(cid, { signal: timeoutSignal(timeoutMs ?? DEFAULT_PROVIDERS_TIMEOUT_MS) })
  })

  app.get(`${API_PREFIX}/replicas/:cid`, async (request) => {
    const cid = parseCid((request.params as { cid: string }).cid)
    return node.replicas(cid)
  })

  app.get(`${API_PREFIX}/stats/:cid`, async (request) => {
    const cid = parseCid((request.params as { cid: string }).cid)
    return node.stats(cid)
  })

  app.get(`${API_PREFIX}/ls`, async () => {
    return node.list()
  })

  app.post(`${API_PREFIX}/rm`, async (request) => {
    const body = (request.body ?? {}) as { cid?: unknown }
    if (typeof body.cid !== 'string') throw new KizunaError('ERR_BAD_REQUEST', '"cid" must be a CID')
    return node.remove(parseCid(body.cid))
  })

  app.post(`${API_PREFIX}/gc`, async (request) => {
    const body = (request.body ?? {}) as { graceMs?: unknown }
    if (body.graceMs != null && (typeof body.graceMs !== 'number' || !Number.isFinite(body.graceMs) || body.graceMs < 0)) {
      throw new KizunaError('ERR_BAD_REQUEST', '"graceMs" must be a number of milliseconds, 0 or more')
    }
    return await node.gc({ graceMs: body.graceMs as number | undefined })
  })
}
