import type { ExchangeClient, ExchangeDialer } from './client.js'
import type { DropReason } from './fetch-events.js'
import type { BlockStore } from '../../content/index.js'
import type { PeerId } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'

/** No usable provider for this long (at the start, or once all have gone) ends the fetch */
export const DEFAULT_PROVIDER_TIMEOUT_MS = 30_000
/**
 * Most bytes requested from one provider at once: 16 blocks of 1 MiB. Covers the bandwidth-delay
 * product of a fast LAN, and on one machine it rides out the stalls of a busy receiver (tens of
 * ms of decrypting and storing) without the provider running dry. Costs the provider nothing
 * beyond its read-ahead (READ_AHEAD_BLOCKS): the rest waits there as WANTs.
 */
export const DEFAULT_MAX_WINDOW_BYTES_PER_PEER = 16 * 1024 * 1024
/** Least window a usable provider gets, however slow it measured */
export const DEFAULT_MIN_WINDOW_BYTES_PER_PEER = 2 * 1024 * 1024
/** Window shared out among providers by measured throughput (two providers at full window) */
export const DEFAULT_TOTAL_WINDOW_BYTES = 32 * 1024 * 1024
/** A provider's window holds at most what it measured to deliver in this long */
export const DEFAULT_WINDOW_QUEUE_TIME_MS = 4_000
/**
 * Received blocks being stored at once; beyond this no new requests go out. Writes to the page
 * cache take well under a millisecond per block, so a deep backlog only means a slow disk: stop
 * asking rather than hold its blocks in memory.
 */
export const DEFAULT_MAX_PROCESSING_BYTES = 8 * 1024 * 1024
/** Endgame starts when this few blocks remain, all of them already requested */
export const DEFAULT_ENDGAME_BLOCKS = 16
/** In endgame a block is requested from at most this many providers at once */
export const DEFAULT_ENDGAME_PEERS_PER_BLOCK = 2
/**
 * In endgame a block gets a second provider only once its own provider looks stalled: nothing
 * delivered for this many of its block times (its measured rate), and never sooner than
 * ENDGAME_MIN_STALL_MS. A provider still delivering will bring the block; asking a second one
 * made both send it (a cancel arrives after the server read it), 20-30% of a flash crowd's upload.
 */
export const ENDGAME_STALL_BLOCK_TIMES = 4
export const ENDGAME_MIN_STALL_MS = 1_000
/**
 * The quick stall rule above holds for the file's tail only: ENDGAME_TAIL_SHARE of its blocks.
 * Before that, a block gets a second provider only after ENDGAME_LONG_STALL_MS of silence on
 * its provider's channel. A server sending other peers' blocks through its upload slots is quiet
 * to us for a few block-times, and answers BUSY after UPLOAD_SLOT_MAX_WAIT_MS (5 s): with the
 * quick rule for all 16 blocks of a file, nearly every block came twice in a 10 Mbit/s lab crowd
 * (65 of 69 MiB of late copies were endgame duplicates).
 */
export const ENDGAME_TAIL_SHARE = 1 / 8
/**
 * Twice UPLOAD_SLOT_MAX_WAIT_MS: a request still waiting for a slot is answered BUSY by then and
 * goes elsewhere anyway. At 5 s the second copy left just as the first got its slot (10 Mbit/s lab
 * crowd, 2 runs each: late copies 58-59 -> 35-37 MiB, daemons 56 -> 44-45 CPU-s, median 2.1-2.26x -> 1.89-1.96x)
 */
export const ENDGAME_LONG_STALL_MS = 10_000
/**
 * A provider whose connection dropped, whose redial failed or whose requests timed out is dialled again this many times
 * before it is given up, after RECONNECT_DELAY_MS, doubling each time. Busy connections do get
 * closed under load (e.g. libp2p's connection monitor when a ping waits behind bulk data), and
 * a static provider list would otherwise lose its only source. Delivering a block resets it.
 */
export const DEFAULT_RECONNECT_ATTEMPTS = 3
export const RECONNECT_DELAY_MS = 500
/** Request timeouts (no progress for requestTimeoutMs) after which a provider is dropped */
export const DEFAULT_MAX_TIMEOUTS_PER_PEER = 2
/** A provider answering DONT_HAVE this many times in a row is rested before it is asked again */
export const MAX_CONSECUTIVE_DONT_HAVE = 8
/** How long a provider is rested after a run of DONT_HAVE */
export const DONT_HAVE_REST_MS = 500
/** Rests in a row (no block delivered in between) before a provider is dropped */
export const MAX_DONT_HAVE_RESTS = 20

export interface FetchOptions {
  blockStore: BlockStore
  /** Peers said to have the content; may keep growing as the DHT answers */
  providers: AsyncIterable<PeerId> | Iterable<PeerId>
  /** A shared client; otherwise give `dialer` and the session makes a private one */
  client?: ExchangeClient
  dialer?: ExchangeDialer
  signal?: AbortSignal
  providerTimeoutMs?: number
  requestTimeoutMs?: number
  maxWindowBytesPerPeer?: number
  minWindowBytesPerPeer?: number
  totalWindowBytes?: number
  maxProcessingBytes?: number
  endgameBlocks?: number
  endgamePeersPerBlock?: number
  maxTimeoutsPerPeer?: number
  reconnectAttempts?: number
  /**
   * Hash every block before handing it to the store (default true). False relies on the
   * BlockStore contract that put() verifies, and penalises the sender when put() reports a
   * mismatch: one sha256 per block instead of two, ~0.7 ms of CPU per MiB. Interior (non-raw)
   * blocks are always verified first, because their links are decoded before put.
   */
  verifyBeforePut?: boolean
  /**
   * Given every fetched block once it is verified and stored, before its buffer is recycled (the
   * bytes are not valid after the promise settles). Writing the output file as blocks arrive
   * (FileAssembler) spares reading everything back after the download. Must not throw.
   */
  onBlock?: (cid: CID, bytes: Uint8Array) => Promise<void>
  /** Told about every provider dropped for misbehaviour, so the peer layer can score it */
  onPenalty?: (peer: PeerId, reason: DropReason, err?: Error) => void
}
