import type { PeerId } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'
import type { ContentKind } from '../content/index.js'
import type { ProviderOrigin } from './provider-source.js'
import type { RelayOnlyCause } from '../nat/relay-only-watch.js'

/** What sharing tells the layers above it (replication counts demand and indexes stored roots) */
export interface SharingEvents {
  /** a root became whole here (added, or fetched in full) */
  'content:stored': CustomEvent<{ root: CID, kind: ContentKind }>
  /** a peer asked whether we hold a root */
  'have:query': CustomEvent<{ root: CID, from: PeerId }>
}

/** Progress of `add`, as sent over the API (plain JSON: CIDs and peer ids as strings) */
export type AddEvent =
  | { type: 'add:progress', bytes: number, totalBytes: number }
  | { type: 'add:skipped', path: string, reason: string }
  | { type: 'add:imported', cid: string, size: number, blocks: number }
  | { type: 'add:announced', cid: string, ok: boolean, error?: string, durationMs: number }
  | { type: 'add:done', cid: string, size: number, link: string, encrypted: boolean }

export interface ProviderUse { peerId: string, blocks: number, bytes: number }

/** Progress of `get` */
export type GetEvent =
  | { type: 'get:local', cid: string }
  | { type: 'get:searching', cid: string }
  | { type: 'get:provider', peerId: string, origin: ProviderOrigin | 'session' }
  | { type: 'get:provider-dropped', peerId: string, reason: string }
  /**
   * A holder we reach only through a relay that carries no more blocks: no direct connection came
   * up, or the opted-in relay's byte cap was reached; `error` names the peer and the way out
   */
  | { type: 'get:relay-only', peerId: string, cause: RelayOnlyCause, error: string }
  /** bytesDone counts blocks found already stored (a resume); bytesFetched only those fetched now */
  | { type: 'get:progress', bytesDone: number, blocksDone: number, bytesFetched?: number, totalBytes?: number, peers: number, providers?: ProviderUse[] }
  /** wastedBytes: received and discarded (a block that came from two providers in endgame, or after its cancel) */
  | { type: 'get:fetched', cid: string, blocksFetched: number, bytesFetched: number, blocksLocal: number, duplicateBlocks: number, wastedBytes: number, durationMs: number, providers: ProviderUse[] }
  | { type: 'get:exporting', output: string }
  /** An entry not written: a symlink (it could point anywhere on this machine) or metadata */
  | { type: 'get:skipped', path: string, reason: string }
  | { type: 'get:done', cid: string, output?: string, size: number, bytesFetched: number, durationMs: number, providers: ProviderUse[] }
