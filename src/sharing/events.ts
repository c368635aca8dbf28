import type { ProviderOrigin } from './provider-source.js'

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
  | { type: 'get:progress', bytesDone: number, blocksDone: number, totalBytes?: number, peers: number }
  | { type: 'get:fetched', cid: string, blocksFetched: number, bytesFetched: number, blocksLocal: number, durationMs: number, providers: ProviderUse[] }
  | { type: 'get:exporting', output: string }
  /** An entry not written: a symlink (it could point anywhere on this machine) or metadata */
  | { type: 'get:skipped', path: string, reason: string }
  | { type: 'get:done', cid: string, output?: string, size: number, bytesFetched: number, durationMs: number, providers: ProviderUse[] }
