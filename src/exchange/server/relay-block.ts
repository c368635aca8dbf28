import { encodeBlockHeader } from '../wire/codec.js'
import { BLOCK_PIECE_BYTES } from '../wire/framed-stream.js'
import { ChannelClosedError, RequestTimeoutError } from '../errors.js'
import { timeoutSignal } from '../../util/timeout-signal.js'
import type { Arrival, ArrivalEvent } from '../relay/arriving-blocks.js'
import type { ServedStream } from './served-stream.js'

/**
 * Cut-through: a block this node is still receiving is passed on to an asker as it arrives, in
 * one BLOCK frame written in pieces, instead of DONT_HAVE until all of it is here. The asker sees
 * an ordinary block that is slow to come, and hashes it as always.
 *
 * The frame's last RELAY_HOLDBACK_BYTES go out only once the whole block has hashed to its CID
 * here, so an honest relay never completes a bad block: if ours turns out bad (or stops
 * coming), the half-written frame is ended by aborting the stream, which the asker reads as a
 * lost channel, not as bad bytes from us. Any completed bad block is then the sender's own doing.
 */
export const RELAY_HOLDBACK_BYTES = 16 * 1024
/**
 * A relayed block must be whole within this long: frames the asker wants meanwhile wait behind
 * it on the stream. A 1 MiB block beside two others takes 5 s on a 5 Mbit/s uplink.
 */
export const RELAY_MAX_MS = 20_000
/**
 * Only a block that began arriving this recently is relayed: one that trickles in (a slow or
 * hostile sender) is served once stored, so it cannot hold many relays, each aborted after RELAY_MAX_MS.
 */
export const RELAY_START_WITHIN_MS = 5_000

/**
 * Blocks go out in pieces while at least this many peers fetch from us (a crowd, as crowd
 * spreading counts one): they can then pass blocks on to each other as they arrive. Pieces cost a
 * loopback transfer 15-20 % of its speed (256 MiB, 2 daemons: 96-112 MB/s against 114-146; at 2
 * peers the 2-provider transfer lost as much), and a lone downloader has nobody to pass them to.
 */
export const PIECES_MIN_PEERS = 3

export function writeInPieces (fetchingPeers: number): boolean {
  return fetchingPeers >= PIECES_MIN_PEERS
}

/**
 * A piece is about this long of our measured upload: small enough that a peer sees a block
 * arrive (and can pass it on) piece by piece, large enough that a fast uplink does not pay per
 * piece. 64 KiB pieces on 40 Mbit/s uplinks cost the lab crowd a fifth more CPU (128.6 CPU-s
 * against 104) on a machine its daemons already kept busy.
 */
export const PIECE_TARGET_MS = 50
/** Largest piece: a whole 1 MiB block */
export const MAX_PIECE_BYTES = 1024 * 1024

/** Bytes per piece for an upload measured at `bytesPerSecond` (undefined: not measured yet) */
export function pieceBytes (bytesPerSecond: number | undefined): number {
  if (bytesPerSecond === undefined || !(bytesPerSecond > 0)) return BLOCK_PIECE_BYTES
  const bytes = Math.round(bytesPerSecond * PIECE_TARGET_MS / 1000 / BLOCK_PIECE_BYTES) * BLOCK_PIECE_BYTES
  return Math.min(MAX_PIECE_BYTES, Math.max(BLOCK_PIECE_BYTES, bytes))
}

/** Whether a WANT for `arrival` may be answered by relaying it */
export function relayable (arrival: Arrival, now = performance.now()): boolean {
  return now - arrival.startedAt <= RELAY_START_WITHIN_MS
}

/** 'sent': the whole frame went out; 'failed': it could not be, and the stream was aborted */
export type RelayOutcome = 'sent' | 'failed'

export class RelayFailedError extends ChannelClosedError {
  constructor (reason: string) {
    super(`a block relayed while it arrived could not be completed: ${reason}`)
  }
}

/** Writes `arrival` to `s` as the reply to request `id`, piece by piece as it arrives */
export async function relayArriving (s: ServedStream, id: number, arrival: Arrival, maxMs = RELAY_MAX_MS): Promise<RelayOutcome> {
  const holdback = Math.min(RELAY_HOLDBACK_BYTES, arrival.size)
  const pieces: Uint8Array[] = []
  let copied = 0
  let state = 'progress' as ArrivalEvent['type']
  let reason = ''
  let wake: (() => void) | undefined
  // every read is a copy taken at once: the bytes shown are the receiving channel's
  const take = (read: (from: number, to: number) => Uint8Array, received: number): void => {
    const upto = Math.min(received, arrival.size - holdback)
    if (upto > copied) {
      pieces.push(read(copied, upto).slice())
      copied = upto
    }
  }
  take((from, to) => arrival.read(from, to), arrival.received)
  const unwatch = arrival.watch(event => {
    if (event.type === 'progress') {
      take(event.read, event.received)
    } else if (event.type === 'verified') {
      if (copied < arrival.size) pieces.push(event.bytes.slice(copied))
      copied = arrival.size
      state = 'verified'
    } else {
      state = 'failed'
      reason = event.reason
    }
    wake?.()
  })
  const deadline = performance.now() + maxMs
  const signal = AbortSignal.any([s.controller.signal, timeoutSignal(maxMs)])
  try {
    await s.framed.beginFrame(encodeBlockHeader(id, arrival.size), { signal })
    for (;;) {
      while (pieces.length > 0 && state !== 'failed') {
        await s.framed.writePiece(pieces.shift() as Uint8Array, { signal })
      }
      if (state === 'failed') throw new RelayFailedError(reason)
      if (state === 'verified') {
        s.framed.endFrame()
        return 'sent'
      }
      const left = deadline - performance.now()
      if (left <= 0) throw new RequestTimeoutError('relaying a block while it arrives', maxMs)
      await new Promise<void>(resolve => {
        const timer = setTimeout(resolve, left)
        wake = () => { clearTimeout(timer); resolve() }
      })
      wake = undefined
    }
  } catch (err) {
    // a frame begun and not ended leaves the stream out of sync: nothing but an abort ends it
    if (!s.framed.closed) s.framed.abort(err instanceof Error ? err : new RelayFailedError(String(err)))
    return 'failed'
  } finally {
    unwatch()
  }
}
