import { lpStream } from '@libp2p/utils'
import type { Connection, PeerId, Stream } from '@libp2p/interface'
import type { KizunaLibp2p } from '../libp2p/types.js'
import { decodeReplicationMessage, encodeReplicationMessage, type ReplicationMessage } from './codec.js'
import { MAX_INBOUND_REPLICATION_STREAMS, MAX_REPLICATION_FRAME, REPLICATE_PROTOCOL, REPLICATION_REQUEST_TIMEOUT_MS } from './constants.js'
import { log } from './log.js'
import { timeoutSignal } from '../util/timeout-signal.js'

export { REPLICATION_REQUEST_TIMEOUT_MS }

/** Each side writes one length-prefixed message; a prefix claiming more than the frame limit is refused unread */
function framed (stream: Stream): ReturnType<typeof lpStream<Stream>> {
  return lpStream(stream, { maxDataLength: MAX_REPLICATION_FRAME })
}

/** Client side: send one request, wait for its one reply */
export async function request (libp2p: KizunaLibp2p, peer: PeerId, message: ReplicationMessage, options: { signal?: AbortSignal } = {}): Promise<ReplicationMessage> {
  const signals = [timeoutSignal(REPLICATION_REQUEST_TIMEOUT_MS)]
  if (options.signal != null) signals.push(options.signal)
  const signal = AbortSignal.any(signals)
  const stream = await libp2p.dialProtocol(peer, REPLICATE_PROTOCOL, { signal })
  try {
    const lp = framed(stream)
    await lp.write(encodeReplicationMessage(message), { signal })
    await stream.close({ signal })
    return decodeReplicationMessage((await lp.read({ signal })).subarray())
  } catch (err) {
    stream.abort(err as Error)
    throw err
  }
}

export type ReplicationHandler = (message: ReplicationMessage, from: PeerId) => Promise<ReplicationMessage>

/** Server side: one request per stream; a malformed request closes that stream only */
export async function handleReplicationStreams (libp2p: KizunaLibp2p, handler: ReplicationHandler): Promise<void> {
  await libp2p.handle(REPLICATE_PROTOCOL, async (stream: Stream, connection: Connection) => {
    const signal = timeoutSignal(REPLICATION_REQUEST_TIMEOUT_MS)
    try {
      const lp = framed(stream)
      const message = decodeReplicationMessage((await lp.read({ signal })).subarray())
      const reply = await handler(message, connection.remotePeer)
      await lp.write(encodeReplicationMessage(reply), { signal })
      await stream.close({ signal })
    } catch (err) {
      log.trace('replication request from %p refused: %s', connection.remotePeer, (err as Error).message)
      stream.abort(err as Error)
    }
  }, { maxInboundStreams: MAX_INBOUND_REPLICATION_STREAMS })
}
