import type { HaveState } from '../wire/codec.js'
import type { CrowdSpreaderInit } from './crowd-spreader.js'
import type { BlockStore } from '../../content/index.js'
import type { AbortOptions, PeerId, StreamHandler, StreamHandlerOptions } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'

/** Requests one peer may have in progress at once (all its streams together); more get BUSY */
export const DEFAULT_MAX_REQUESTS_PER_PEER = 128
/** Block bytes loaded for one peer and not yet taken by the transport; more get BUSY */
export const DEFAULT_MAX_BYTES_IN_FLIGHT_PER_PEER = 32 * 1024 * 1024
/** Suggested back-off sent with BUSY */
export const DEFAULT_BUSY_RETRY_AFTER_MS = 100
/**
 * Replies waiting to be written with no progress (no drain, nothing written) for this long mean
 * the peer stopped reading: its stream is aborted. Progress, not age, so slow links survive.
 */
export const DEFAULT_SERVE_TIMEOUT_MS = 60_000
/** Clients keep one stream per peer; a few more allow reconnects and parallel sessions */
export const DEFAULT_MAX_INBOUND_STREAMS = 16
export interface HaveAnswer {
  has: HaveState
  /** Number of the DAG's blocks held, when known */
  count?: number
}

/** What the server needs from libp2p; a Libp2p node fits */
export interface ProtocolRegistrar {
  handle(protocol: string, handler: StreamHandler, options?: StreamHandlerOptions): Promise<void>
  unhandle(protocol: string, options?: AbortOptions): Promise<void>
}

export interface ExchangeServerComponents {
  registrar: ProtocolRegistrar
  blockStore: BlockStore
  /** Answers HAVE_QUERY precisely; without it the server only knows whether it has the root */
  hasContent?: (root: CID, options: AbortOptions & { peer: PeerId }) => Promise<HaveState | HaveAnswer>
}

export interface ExchangeServerInit {
  protocol?: string
  maxRequestsPerPeer?: number
  maxBytesInFlightPerPeer?: number
  busyRetryAfterMs?: number
  serveTimeoutMs?: number
  maxInboundStreams?: number
  /** Blocks read ahead of the transport per stream (READ_AHEAD_BLOCKS in content/unixfs/file-reader.ts) */
  readAheadBlocks?: number
  /** Crowd spreading limits (see crowd-spreader.ts) */
  spreading?: CrowdSpreaderInit
}
