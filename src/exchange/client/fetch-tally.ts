import type { FetchDoneEvent, FetchProgressEvent } from './fetch-events.js'
import type { Provider } from './provider.js'
import type { CID } from 'multiformats/cid'

/** The parts of a progress event the tally does not know: the requests and the providers */
export type LiveCounts = Pick<FetchProgressEvent, 'blocksQueued' | 'blocksInFlight' | 'peers'>

/** The blocks a fetch session got, fetched or found already stored, and how long it took */
export class FetchTally {
  private blocksFetched = 0
  private bytesFetched = 0
  private blocksLocal = 0
  private bytesLocal = 0
  private readonly startedAt = performance.now()

  fetched (bytes: number): void {
    this.blocksFetched++
    this.bytesFetched += bytes
  }

  foundLocally (bytes: number): void {
    this.blocksLocal++
    this.bytesLocal += bytes
  }

  progress (live: LiveCounts): FetchProgressEvent {
    return {
      type: 'fetch:progress',
      blocksDone: this.blocksFetched + this.blocksLocal,
      bytesDone: this.bytesFetched + this.bytesLocal,
      blocksFetched: this.blocksFetched,
      bytesFetched: this.bytesFetched,
      blocksQueued: live.blocksQueued,
      blocksInFlight: live.blocksInFlight,
      peers: live.peers
    }
  }

  done (root: CID, duplicateBlocks: number, wastedBytes: number, providers: Provider[]): FetchDoneEvent {
    return {
      type: 'fetch:done',
      root,
      blocks: this.blocksFetched + this.blocksLocal,
      bytes: this.bytesFetched + this.bytesLocal,
      blocksFetched: this.blocksFetched,
      bytesFetched: this.bytesFetched,
      blocksLocal: this.blocksLocal,
      duplicateBlocks,
      wastedBytes,
      durationMs: Math.round(performance.now() - this.startedAt),
      providers: providers.filter(p => p.blocks > 0).map(p => ({ peer: p.peer, blocks: p.blocks, bytes: p.bytes }))
    }
  }
}
