import { join } from 'node:path'
import type { Lab } from '../../src/netlab/index.js'
import { LabTestnet, type LabMember } from '../../src/testnet/lab-testnet.js'
import type { KizunaConfig } from '../../src/node/config.js'
import type { AddEvent, GetEvent } from '../../src/sharing/events.js'
import type { NatStatus } from '../../src/nat/nat-service.js'
import { MiB, writeRandomFile } from './content.js'

/** How long after the relayed connection a trial waits for DCUtR's direct one (DCUtR: 3 × 5 s at most) */
export const PUNCH_WAIT_MS = 16_000
/** A relayed dial is retried this long (10 s dial timeout each; the lab machine is loaded) */
const RELAYED_DIAL_MS = 60_000

type Status = { nat: NatStatus, addrs: string[] }

/** A NAT kind pair of the bench: the downloader dials the holder's relayed address */
export interface TrialKind { name: string, downloader: string, holder: string, downloaderArgs: string[] }

export interface Trial {
  punched: boolean
  msToDirect: number | null
  /** direct: the get succeeded; relay-only: ERR_RELAY_ONLY; failed: anything else */
  outcome: 'direct' | 'relay-only' | 'failed'
  code: string | null
  getMs: number | null
  /** get start → first progress event with fetched bytes */
  ttfbMs: number | null
  /** a direct connection to the holder existed once the get ended (a punch, or a dial back) */
  directAfterGet: boolean
  /** relayed dial attempts, and the distinct errors of the failed ones */
  dialAttempts: number
  dialErrors: string[]
}

export async function waitUntil<T> (check: () => Promise<T | undefined>, timeoutMs: number, signal: AbortSignal): Promise<T | undefined> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    signal.throwIfAborted()
    const value = await check().catch(() => undefined)
    if (value !== undefined) return value
    await new Promise(resolve => setTimeout(resolve, 250))
  }
  return undefined
}

export async function add (member: LabMember, path: string, signal: AbortSignal): Promise<string> {
  for await (const event of member.api.stream<AddEvent>('/add', { path }, { signal })) if (event.type === 'add:done') return event.cid
  throw new Error('add ended without add:done')
}

export interface GetResult { ms: number, bytes: number, code: string | null, ttfbMs: number | null }

/** A get to its end: bytes on success, the error code on failure, how long it took, time to first byte */
export async function get (member: LabMember, cid: string, output: string, signal: AbortSignal): Promise<GetResult> {
  const started = Date.now()
  let ttfbMs: number | null = null
  try {
    for await (const event of member.api.stream<GetEvent>('/get', { target: cid, output, timeoutMs: 15_000 }, { signal })) {
      if (event.type === 'get:progress' && ttfbMs == null && (event.bytesFetched ?? event.bytesDone) > 0) ttfbMs = Date.now() - started
      if (event.type === 'get:done') return { ms: Date.now() - started, bytes: event.size, code: null, ttfbMs: ttfbMs ?? Date.now() - started }
    }
    throw new Error('get ended without get:done')
  } catch (err) {
    return { ms: Date.now() - started, bytes: 0, code: (err as { code?: string }).code ?? (err as Error).message, ttfbMs }
  }
}

export async function relayedAddr (member: LabMember, relayIp: string, signal: AbortSignal): Promise<string> {
  const addr = await waitUntil(async () => (await member.api.get<Status>('/status')).addrs.find(a => a.includes('/p2p-circuit') && a.includes(relayIp)), 60_000, signal)
  if (addr == null) throw new Error(`no reservation on ${relayIp} for ${member.host}`)
  return addr
}

/** Dials until one attempt succeeds or RELAYED_DIAL_MS pass; counts attempts and keeps their errors */
export async function connect (from: LabMember, addr: string, signal: AbortSignal): Promise<{ ok: boolean, attempts: number, errors: string[] }> {
  const errors = new Set<string>()
  let attempts = 0
  const deadline = Date.now() + RELAYED_DIAL_MS
  while (Date.now() < deadline) {
    signal.throwIfAborted()
    attempts++
    try {
      await from.api.post('/connect', { addr })
      return { ok: true, attempts, errors: [...errors] }
    } catch (err) {
      // addresses and peer ids left out: the same error from every trial reads the same
      errors.add(String((err as Error).message ?? err).replace(/\/ip[46]\/\S+/g, '<addr>').replace(/12D3Koo\w+/g, '<peer>').slice(0, 200))
      await new Promise(resolve => setTimeout(resolve, 500))
    }
  }
  return { ok: false, attempts, errors: [...errors] }
}

/**
 * One trial: two fresh daemons (new repos, new identities), the holder adds a 1 MiB file, the
 * downloader dials its relayed address, waits PUNCH_WAIT_MS for a direct connection, then gets.
 */
export async function runTrial (lab: Lab, kind: TrialKind, relayIp: string, boot: string[], config: Partial<KizunaConfig>, dir: string, tag: string, signal: AbortSignal): Promise<Trial> {
  const pair = new LabTestnet(lab, { config })
  try {
    // LabTestnet makes its temp dir on the first prepare: not twice at once
    await pair.prepare(kind.downloader)
    const [x, y] = await Promise.all([
      pair.start(kind.downloader, { bootstrap: boot, args: kind.downloaderArgs, signal }),
      pair.start(kind.holder, { bootstrap: boot, args: ['--reachability', 'private'], signal })
    ])
    const file = join(dir, `${tag}.bin`)
    await writeRandomFile(file, 1 * MiB)
    const cid = await add(y, file, signal)
    const before = (await x.api.get<Status>('/status')).nat.peers
    const dial = await connect(x, await relayedAddr(y, relayIp, signal), signal)
    const base = { dialAttempts: dial.attempts, dialErrors: dial.errors }
    if (!dial.ok) return { ...base, directAfterGet: false, punched: false, msToDirect: null, outcome: 'failed', code: 'relayed dial failed', getMs: null, ttfbMs: null }
    const started = Date.now()
    const direct = await waitUntil(async () => {
      const peers = (await x.api.get<Status>('/status')).nat.peers
      return peers.direct > before.direct && peers.relayedOnly === 0 ? true : undefined
    }, PUNCH_WAIT_MS, signal)
    const msToDirect = direct === true ? Date.now() - started : null
    const result = await get(x, cid, join(dir, `${tag}.out`), signal)
    const directAfterGet = (await x.api.get<Status>('/status')).nat.peers.direct > before.direct
    const outcome = result.code == null ? 'direct' : result.code === 'ERR_RELAY_ONLY' ? 'relay-only' : 'failed'
    return { ...base, directAfterGet, punched: direct === true, msToDirect, outcome, code: result.code, getMs: result.ms, ttfbMs: result.code == null ? result.ttfbMs : null }
  } finally {
    await pair.stop()
  }
}
