import { lpStream } from '@libp2p/utils'
import type { Connection, Libp2p, PeerId, Stream } from '@libp2p/interface'
import { KizunaError } from '../errors.js'
import { timeoutSignal } from '../util/timeout-signal.js'

/** One request/reply exchange on a messaging protocol, dial included, may take this long */
export const RPC_TIMEOUT_MS = 10_000

export interface RpcCodec<F> {
  protocol: string
  maxFrame: number
  encode: (frame: F) => Uint8Array
  decode: (body: Uint8Array) => F
}

/** Client side: one frame out, one frame back, on a fresh stream */
export async function rpc<F> (libp2p: Libp2p, peer: PeerId, codec: RpcCodec<F>, frame: F, options: { signal?: AbortSignal, timeoutMs?: number } = {}): Promise<F> {
  const signal = AbortSignal.any([timeoutSignal(options.timeoutMs ?? RPC_TIMEOUT_MS), ...(options.signal != null ? [options.signal] : [])])
  const stream = await libp2p.dialProtocol(peer, codec.protocol, { signal })
  try {
    const lp = lpStream(stream, { maxDataLength: codec.maxFrame })
    await lp.write(codec.encode(frame), { signal })
    const reply = codec.decode((await lp.read({ signal })).subarray())
    await stream.close({ signal }).catch(() => {})
    return reply
  } catch (err) {
    stream.abort(err as Error)
    throw err
  }
}

export type RpcHandler<F> = (frame: F, from: PeerId) => Promise<F>

/**
 * Server side: one request per stream. Garbage (bad length, bad JSON, a field out of range)
 * is answered with a `refused` frame when the codec can say so, and closes that stream only.
 */
export async function handleRpc<F> (libp2p: Libp2p, codec: RpcCodec<F>, handler: RpcHandler<F>, onError: (err: unknown, from: PeerId) => F | undefined, maxInboundStreams = 32): Promise<void> {
  await libp2p.handle(codec.protocol, async (stream: Stream, connection: Connection) => {
    const signal = timeoutSignal(RPC_TIMEOUT_MS)
    const lp = lpStream(stream, { maxDataLength: codec.maxFrame })
    try {
      let reply: F | undefined
      try {
        reply = await handler(codec.decode((await lp.read({ signal })).subarray()), connection.remotePeer)
      } catch (err) {
        reply = onError(err, connection.remotePeer)
        if (reply === undefined) throw err
      }
      await lp.write(codec.encode(reply), { signal })
      await stream.close({ signal })
    } catch (err) {
      stream.abort(err instanceof Error ? err : new KizunaError('ERR_RPC', String(err)))
    }
  }, { maxInboundStreams })
}
