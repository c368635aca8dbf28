import type { TestnetMember } from '../../src/testnet/testnet.js'
import type { GetEvent } from '../../src/sharing/events.js'

/** One get as the API client saw it: ms from the request to each milestone (null: never seen) */
export interface GetTiming {
  /** `get:provider`: the first holder found */
  firstProviderMs: number | null
  /** the first fetched bytes (`get:progress` with bytes, or `get:fetched`) */
  blockMs: number | null
  fetchedMs: number | null
  exportingMs: number | null
  /** request → `get:done` as the client received it */
  totalMs: number
  /** `get:done`'s own durationMs: the daemon's time, without HTTP */
  daemonMs: number
  /** `get:exporting` → `get:done`: writing the output after the bytes are verified */
  exportToDoneMs: number | null
  /** how the first provider was found (connected peer, DHT, hint) */
  origin: string | null
  local: boolean
}

/**
 * POST /get to `output`, timing each progress event as it arrives. A 1 KiB file is one block, so
 * `get:fetched` may be the first event that carries its bytes.
 */
export async function timedGet (member: TestnetMember, target: string, output: string, signal: AbortSignal): Promise<GetTiming> {
  const t0 = performance.now()
  const at = (): number => performance.now() - t0
  const timing: GetTiming = { firstProviderMs: null, blockMs: null, fetchedMs: null, exportingMs: null, totalMs: NaN, daemonMs: NaN, exportToDoneMs: null, origin: null, local: false }
  let done = false
  for await (const event of member.child!.api.stream<GetEvent>('/get', { target, output }, { signal })) {
    switch (event.type) {
      case 'get:local':
        timing.local = true
        break
      case 'get:provider':
        if (timing.firstProviderMs == null) { timing.firstProviderMs = at(); timing.origin = event.origin }
        break
      case 'get:progress':
        if (timing.blockMs == null && (event.bytesFetched ?? event.bytesDone) > 0) timing.blockMs = at()
        break
      case 'get:fetched':
        timing.fetchedMs = at()
        timing.blockMs ??= timing.fetchedMs
        break
      case 'get:exporting':
        timing.exportingMs = at()
        break
      case 'get:done':
        timing.totalMs = at()
        timing.daemonMs = event.durationMs
        done = true
        break
    }
  }
  if (!done) throw new Error(`get of ${target} on n${member.index} ended without get:done`)
  if (timing.exportingMs != null) timing.exportToDoneMs = timing.totalMs - timing.exportingMs
  return timing
}

/** Wall ms of one GET through the daemon API (the HTTP floor every get pays) */
export async function apiRoundTripMs (member: TestnetMember, signal: AbortSignal): Promise<number> {
  const t0 = performance.now()
  await member.child!.api.get('/id', { signal })
  return performance.now() - t0
}

/** The libp2p ping round trip the daemon measures when asked to connect to a peer it may already know */
export async function pingRttMs (member: TestnetMember, to: TestnetMember, signal: AbortSignal): Promise<number> {
  const answer = await member.child!.api.post<{ peerId: string, rttMs: number }>('/connect', { addr: to.addrs[0] }, { signal, timeoutMs: 20_000 })
  return answer.rttMs
}
