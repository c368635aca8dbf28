import { createHash, randomBytes } from 'node:crypto'
import { createReadStream, createWriteStream } from 'node:fs'
import { once } from 'node:events'
import type { TestnetMember } from '../../src/testnet/testnet.js'
import type { AddEvent, GetEvent, ProviderUse } from '../../src/sharing/events.js'
import type { NodeStatus } from '../../src/node/node.js'

export const MiB = 1024 * 1024

/** Writes `size` random bytes in 1 MiB pieces (never the whole file in memory); returns its sha256 */
export async function writeRandomFile (path: string, size: number): Promise<string> {
  const hash = createHash('sha256')
  const out = createWriteStream(path)
  try {
    for (let done = 0; done < size;) {
      const chunk = randomBytes(Math.min(MiB, size - done))
      hash.update(chunk)
      done += chunk.length
      if (!out.write(chunk)) await once(out, 'drain')
    }
  } finally {
    out.end()
    await once(out, 'close')
  }
  return hash.digest('hex')
}

export async function sha256File (path: string): Promise<string> {
  const hash = createHash('sha256')
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer)
  return hash.digest('hex')
}

export type AddDone = AddEvent & { type: 'add:done' }
export type GetDone = GetEvent & { type: 'get:done' }

/** POST /add through the daemon API, following its progress stream to `add:done` */
export async function addFile (member: TestnetMember, path: string, options: { replicas?: number, signal?: AbortSignal, onEvent?: (event: AddEvent) => void } = {}): Promise<AddDone> {
  let done: AddDone | undefined
  const body = { path, ...(options.replicas != null ? { replicas: options.replicas } : {}) }
  for await (const event of member.child!.api.stream<AddEvent>('/add', body, { signal: options.signal })) {
    options.onEvent?.(event)
    if (event.type === 'add:done') done = event
  }
  if (done == null) throw new Error(`add of ${path} on n${member.index} ended without add:done`)
  return done
}

/**
 * POST /get through the daemon API, following its progress stream to `get:done`. A failure
 * after the start arrives as an in-band error line, which the client throws.
 */
export async function getFile (member: TestnetMember, target: string, options: { output?: string, timeoutMs?: number, signal?: AbortSignal, onEvent?: (event: GetEvent) => void } = {}): Promise<GetDone> {
  let done: GetDone | undefined
  const body = { target, ...(options.output != null ? { output: options.output } : {}), ...(options.timeoutMs != null ? { timeoutMs: options.timeoutMs } : {}) }
  for await (const event of member.child!.api.stream<GetEvent>('/get', body, { signal: options.signal })) {
    options.onEvent?.(event)
    if (event.type === 'get:done') done = event
  }
  if (done == null) throw new Error(`get of ${target} on n${member.index} ended without get:done`)
  return done
}

export interface Replica { peerId: string, kind: 'pinned' | 'cached', verified: boolean }

/** GET /replicas/:cid: a DHT search plus a holder query and a one-block probe per holder, so it can take seconds */
export async function replicas (member: TestnetMember, cid: string, signal?: AbortSignal): Promise<Replica[]> {
  return member.child!.api.get<Replica[]>(`/replicas/${cid}`, { signal, timeoutMs: 30_000 })
}

export interface CidStats { cid: string, ratePerMinute: number, totalRequests: number, lastRequest: string | null, floor: number, role: string | null, lastCountedHolders: number | null }

export async function cidStats (member: TestnetMember, cid: string, signal?: AbortSignal): Promise<CidStats> {
  return member.child!.api.get<CidStats>(`/stats/${cid}`, { signal, timeoutMs: 10_000 })
}

export async function status (member: TestnetMember, signal?: AbortSignal): Promise<NodeStatus> {
  return member.child!.api.get<NodeStatus>('/status', { signal, timeoutMs: 10_000 })
}

/** Bytes each provider delivered, summed over several downloads */
export function servedBy (downloads: Array<{ providers: ProviderUse[] }>): Map<string, number> {
  const served = new Map<string, number>()
  for (const download of downloads) {
    for (const provider of download.providers) served.set(provider.peerId, (served.get(provider.peerId) ?? 0) + provider.bytes)
  }
  return served
}
