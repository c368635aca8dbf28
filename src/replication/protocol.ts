import type { Connection, PeerId, Stream } from '@libp2p/interface'
import type { KizunaLibp2p } from '../libp2p/types.js'
import { REPLICATE_PROTOCOL, ReplicationDecoder, encodeReplicationMessage, type ReplicationMessage } from './codec.js'
import { KizunaError } from '../errors.js'

/** One offer or holder query, including the dial, may take this long */
export const REPLICATION_REQUEST_TIMEOUT_MS = 10_000

/** Reads exactly one message from a stream, bounded by the codec's frame limit */
async function readOne (stream: Stream, signal: AbortSignal): Promise<ReplicationMessage> {
  const decoder = new ReplicationDecoder()
  const onAbort = (): void => { stream.abort(new KizunaError('ERR_TIMEOUT', 'replication request timed out')) }
  signal.addEventListener('abort', onAbort, { once: true })
  try {
    for await (const chunk of stream) {
      const messages = decoder.push(chunk)
      if (messages.length > 0) return messages[0]
    }
  } finally {
    signal.removeEventListener('abort', onAbort)
  }
  throw new KizunaError('ERR_NO_REPLY', 'peer closed the replication stream without replying')
}

/** Client side: send one request, wait for its one reply */
export async function request (libp2p: KizunaLibp2p, peer: PeerId, message: ReplicationMessage, options: { signal?: AbortSignal } = {}): Promise<ReplicationMessage> {
  const signals = [AbortSignal.timeout(REPLICATION_REQUEST_TIMEOUT_MS)]
  if (options.signal != null) signals.push(options.signal)
  const signal = AbortSignal.any(signals)
  const stream = await libp2p.dialProtocol(peer, REPLICATE_PROTOCOL, { signal })
  try {
    stream.send(encodeReplicationMessage(message))
    await stream.close({ signal })
    return await readOne(stream, signal)
  } catch (err) {
    stream.abort(err as Error)
    throw err
  }
}

export type ReplicationHandler = (message: ReplicationMessage, from: PeerId) => Promise<ReplicationMessage>

/** Server side: one request per stream; a malformed request closes that stream only */
export async function handleReplicationStreams (libp2p: KizunaLibp2p, handler: ReplicationHandler): Promise<void> {
  await libp2p.handle(REPLICATE_PROTOCOL, async (stream: Stream, connection: Connection) => {
    const signal = AbortSignal.timeout(REPLICATION_REQUEST_TIMEOUT_MS)
    try {
      const message = await readOne(stream, signal)
      const reply = await handler(message, connection.remotePeer)
      stream.send(encodeReplicationMessage(reply))
      await stream.close({ signal })
    } catch (err) {
      stream.abort(err as Error)
    }
  }, { maxInboundStreams: 32 })
}
