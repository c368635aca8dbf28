import type { PeerId } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'

/**
 * Why a session stopped using a provider. 'bad-block' and 'protocol-error' are the peer's fault
 * and are reported to `onPenalty`; the others can happen to an honest peer.
 */
export type DropReason = 'bad-block' | 'protocol-error' | 'disconnected' | 'dial-failed' | 'timeout' | 'dont-have'

export const PENALISED_REASONS: ReadonlySet<DropReason> = new Set<DropReason>(['bad-block', 'protocol-error'])

export interface ProviderAddedEvent {
  type: 'fetch:provider-added'
  peer: PeerId
}

export interface ProviderDroppedEvent {
  type: 'fetch:provider-dropped'
  peer: PeerId
  reason: DropReason
  error?: Error
}

export interface BlockFetchedEvent {
  type: 'fetch:block'
  cid: CID
  /** Size of the block in bytes (the block itself is in the BlockStore) */
  bytes: number
  from: PeerId
}

export interface FetchProgressEvent {
  type: 'fetch:progress'
  /** Blocks of the DAG now present locally: fetched this session plus found already present */
  blocksDone: number
  bytesDone: number
  blocksFetched: number
  bytesFetched: number
  /** Known to be needed and not yet requested */
  blocksQueued: number
  blocksInFlight: number
  /** Providers currently connected and usable */
  peers: number
}

export interface ProviderSummary {
  peer: PeerId
  blocks: number
  bytes: number
}

export interface FetchDoneEvent {
  type: 'fetch:done'
  root: CID
  blocks: number
  bytes: number
  blocksFetched: number
  bytesFetched: number
  /** Blocks that were already in the BlockStore (resume) */
  blocksLocal: number
  /** Blocks received more than once (endgame) and discarded */
  duplicateBlocks: number
  /** Bytes received and discarded: endgame duplicates and blocks that arrived after their cancel */
  wastedBytes: number
  durationMs: number
  providers: ProviderSummary[]
}

export type FetchEvent = ProviderAddedEvent | ProviderDroppedEvent | BlockFetchedEvent | FetchProgressEvent | FetchDoneEvent
