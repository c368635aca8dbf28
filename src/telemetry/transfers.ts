import { EventEmitter } from 'node:events'
import type { AddEvent, GetEvent, ProviderUse } from '../sharing/events.js'

/** Finished transfers kept for the dashboard's "recent" list */
export const RECENT_TRANSFERS = 50
/** One transfer reports progress to listeners at most this often */
export const TRANSFER_UPDATE_INTERVAL_MS = 250

export type TransferKind = 'add' | 'get'
export type TransferState = 'running' | 'done' | 'failed'

/** What the dashboard shows of one add or get (plain JSON) */
export interface TransferSnapshot {
  id: number
  kind: TransferKind
  /** the path added or the CID / link asked for */
  label: string
  cid?: string
  state: TransferState
  startedAt: number
  endedAt?: number
  bytesDone: number
  totalBytes?: number
  peers: number
  providers: ProviderUse[]
  error?: string
}

export interface TransferFinished {
  kind: TransferKind
  state: TransferState
  durationMs: number
  blocksFetched: number
  bytesFetched: number
}

export interface TransferLogEvents {
  'transfer': [TransferSnapshot]
  'finished': [TransferFinished]
  /** a provider dropped from a get because of the block or frames it sent */
  'penalty': [{ peerId: string, reason: string }]
}

/**
 * Running and recent adds/gets: the operations' own progress generators pass through
 * `track`, which records what they say and hands every event on unchanged.
 */
export class TransferLog extends EventEmitter<TransferLogEvents> {
  private readonly running = new Map<number, TransferSnapshot>()
  private readonly recent: TransferSnapshot[] = []
  private nextId = 1

  list (): TransferSnapshot[] {
    return [...this.running.values(), ...this.recent].map(t => ({ ...t, providers: [...t.providers] }))
  }

  async * track<E extends AddEvent | GetEvent> (kind: TransferKind, label: string, events: AsyncIterable<E>): AsyncGenerator<E> {
    const transfer: TransferSnapshot = { id: this.nextId++, kind, label, state: 'running', startedAt: Date.now(), bytesDone: 0, peers: 0, providers: [] }
    this.running.set(transfer.id, transfer)
    this.emit('transfer', { ...transfer })
    let lastUpdate = 0
    let blocksFetched = 0
    let bytesFetched = 0
    try {
      for await (const event of events) {
        const final = this.apply(transfer, event)
        if (event.type === 'get:fetched') { blocksFetched = event.blocksFetched; bytesFetched = event.bytesFetched }
        if (event.type === 'get:provider-dropped' && (event.reason === 'bad-block' || event.reason === 'protocol-error')) {
          this.emit('penalty', { peerId: event.peerId, reason: event.reason })
        }
        if (final || Date.now() - lastUpdate >= TRANSFER_UPDATE_INTERVAL_MS) {
          lastUpdate = Date.now()
          this.emit('transfer', { ...transfer })
        }
        yield event
      }
      transfer.state = 'done'
      if (transfer.totalBytes == null) transfer.totalBytes = transfer.bytesDone
      transfer.bytesDone = transfer.totalBytes
    } catch (err) {
      transfer.state = 'failed'
      transfer.error = (err as Error).message
      throw err
    } finally {
      // a consumer that stops early (client gone) ends the operation: that is a failure too
      if (transfer.state === 'running') { transfer.state = 'failed'; transfer.error = 'cancelled' }
      transfer.endedAt = Date.now()
      this.running.delete(transfer.id)
      this.recent.unshift(transfer)
      if (this.recent.length > RECENT_TRANSFERS) this.recent.length = RECENT_TRANSFERS
      this.emit('transfer', { ...transfer })
      this.emit('finished', { kind, state: transfer.state, durationMs: transfer.endedAt - transfer.startedAt, blocksFetched, bytesFetched })
    }
  }

  /** Folds one event into the snapshot; true when it is worth sending at once */
  private apply (t: TransferSnapshot, event: AddEvent | GetEvent): boolean {
    switch (event.type) {
      case 'add:progress':
        t.bytesDone = event.bytes
        t.totalBytes = event.totalBytes
        return false
      case 'add:imported':
        t.cid = event.cid
        t.totalBytes = event.size
        t.bytesDone = event.size
        return true
      case 'add:done':
        t.cid = event.cid
        return true
      case 'get:local':
      case 'get:searching':
        t.cid = event.cid
        return true
      case 'get:progress':
        t.bytesDone = event.bytesDone
        if (event.totalBytes != null) t.totalBytes = event.totalBytes
        t.peers = event.peers
        if (event.providers != null) t.providers = event.providers
        return false
      case 'get:fetched':
        t.providers = event.providers
        return true
      case 'get:done':
        t.cid = event.cid
        t.totalBytes = event.size
        t.bytesDone = event.size
        t.providers = event.providers
        return true
      default:
        return false
    }
  }
}
