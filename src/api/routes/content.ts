import { isAbsolute } from 'node:path'
import type { FastifyInstance } from 'fastify'
import type { KizunaNode } from '../../node/node.js'
import { KizunaError } from '../../errors.js'
import { API_PREFIX } from '../constants.js'
import { sendEventStream } from '../event-stream.js'
import { parseCid } from '../../links/share-link.js'
import { findProviders } from '../../sharing/provider-source.js'

/** `kizuna providers` searches this long by default */
export const DEFAULT_PROVIDERS_TIMEOUT_MS = 10_000

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
    if (body.replicas != null && (typeof body.replicas !== 'number' || !Number.isInteger(body.replicas) || body.replicas < 1 || body.replicas > 64)) {
      throw new KizunaError('ERR_BAD_REQUEST', '"replicas" must be a whole number from 1 to 64')
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
    const controller = new AbortController()
    const events = node.get(body.target, { output, force: body.force === true, pin: body.pin === true, providerTimeoutMs, signal: controller.signal })
    await sendEventStream(reply, events, () => { controller.abort() })
  })

  app.get(`${API_PREFIX}/providers/:cid`, async (request) => {
    const { cid: text } = request.params as { cid: string }
    const query = request.query as { timeoutMs?: string }
    const cid = parseCid(text)
    const timeoutMs = query.timeoutMs != null ? optionalPositive(Number(query.timeoutMs), 'timeoutMs') : DEFAULT_PROVIDERS_TIMEOUT_MS
    const signal = AbortSignal.timeout(timeoutMs ?? DEFAULT_PROVIDERS_TIMEOUT_MS)
    const found: Array<{ peerId: string, origin: string, has?: string, addrs: string[] }> = []
    const self = await node.content.stat(cid).catch(() => undefined)
    if (self?.complete === true) {
      found.push({ peerId: node.peerId.toString(), origin: 'self', has: 'full', addrs: node.addrs() })
    }
    for await (const provider of findProviders(cid, { libp2p: node.libp2p, client: node.sharing.client, penalties: node.sharing.penalties }, { signal, dhtRounds: 1 })) {
      const peer = await node.libp2p.peerStore.get(provider.peerId).catch(() => undefined)
      found.push({ peerId: provider.peerId.toString(), origin: provider.origin, has: provider.has, addrs: peer?.addresses.map(a => a.multiaddr.toString()) ?? [] })
    }
    return found
  })

  app.get(`${API_PREFIX}/replicas/:cid`, async (request) => {
    const cid = parseCid((request.params as { cid: string }).cid)
    const holders = await node.replication.replicas(cid)
    return holders.map(h => ({ peerId: h.peerId, kind: h.kind, verified: h.verified }))
  })

  app.get(`${API_PREFIX}/stats/:cid`, async (request) => {
    const cid = parseCid((request.params as { cid: string }).cid)
    return node.replication.stats(cid)
  })

  app.get(`${API_PREFIX}/ls`, async () => {
    const records = await node.content.list()
    return records.map(r => ({ cid: r.cid.toString(), kind: r.kind, size: r.size, blocks: r.blocks, name: r.name ?? null, addedAt: new Date(r.addedAt).toISOString() }))
  })

  app.post(`${API_PREFIX}/rm`, async (request) => {
    const body = (request.body ?? {}) as { cid?: unknown }
    if (typeof body.cid !== 'string') throw new KizunaError('ERR_BAD_REQUEST', '"cid" must be a CID')
    const result = await node.content.remove(parseCid(body.cid))
    node.contentChanged()
    return { cid: result.cid.toString(), freedBlocks: result.freedBlocks, freedBytes: result.freedBytes }
  })
}
