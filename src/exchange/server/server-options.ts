import type { UploadSlotsInit } from './upload-slots.js'
import type { HaveState } from '../wire/codec.js'
import type { CrowdSpreaderInit } from './crowd-spreader.js'
import type { ProbeClient } from './crowd-prober.js'
import type { Budget, RequestKind } from './request-budget.js'
import type { BlockStore } from '../../content/index.js'
import type { ArrivingBlocks } from '../relay/arriving-blocks.js'
import type { AbortOptions, PeerId, StreamHandler, StreamHandlerOptions } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'

/** Requests one peer may have in progress at once (all its streams together); more get BUSY */
export const DEFAULT_MAX_REQUESTS_PER_PEER = 128
/** Block bytes loaded for one peer and not yet taken by the transport; more get BUSY */
export const DEFAULT_MAX_BYTES_IN_FLIGHT_PER_PEER = 32 * 1024 * 1024
/** Suggested back-off sent with BUSY */
export const DEFAULT_BUSY_RETRY_AFTER_MS = 100
/** Back-off sent with BUSY to a peer past its request budget */
export const OVER_BUDGET_RETRY_AFTER_MS = 1_000
/** Per-peer stats kept for peers with no open stream; the longest idle are forgotten past it */
export const MAX_IDLE_PEER_STATS = 256
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
  /**
   * Asks peers back for blocks we sent them (crowd-prober.ts): only a peer that serves counts as
   * a crowd member. Without it nobody is proven, so crowd spreading never refers anyone.
   */
  probeClient?: ProbeClient
  /**
   * Where misbehaving peers are sentenced (malformed frames, requests far past their budget) and
   * looked up: a penalised peer's streams are refused. Without it a dropped peer may come back.
   */
  penalties?: ServerPenalties
  /** Blocks this node's own fetches are receiving right now: served on while they arrive */
  arrivals?: ArrivingBlocks
}

export interface ServerPenalties {
  penalise(peerId: string, reason: string): void
  isPenalised(peerId: string): boolean
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
  /**
   * Verify every block read for serving (default true): re-hashed, unless its file's stat is unchanged
   * since the store hashed or wrote it (verified-stats.ts); one that fails is deleted by the store and
   * answered DONT_HAVE. Off only for benchmarks measuring the hash's cost.
   */
  verifyOnServe?: boolean
  /** Per-peer request budgets (request-budget.ts DEFAULT_BUDGETS) */
  budgets?: Partial<Record<RequestKind, Budget>>
  /** Crowd spreading limits (see crowd-spreader.ts) */
  spreading?: CrowdSpreaderInit
  /** Blocks sent at once to all peers together (see upload-slots.ts) */
  uploadSlots?: UploadSlotsInit
  /** A block relayed while it arrives must be whole within this long (RELAY_MAX_MS) */
  relayMaxMs?: number
}
