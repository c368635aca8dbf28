import { withPut, type BlockStore } from '../content/index.js'

/** One request taking part in a shared fetch session (see shared-fetch.ts) */
export interface SinkParticipant {
  /** where this request wants the blocks (undefined: the node's store) */
  store?: BlockStore
  /** true: `store` writes the file's leaves into an output as they come (a FileAssembler's view) */
  assembles?: boolean
  /** called once when another request takes part too: its blocks may then go to that one's store */
  onShared?: () => void
}

interface Entry extends SinkParticipant {
  present: boolean
  told: boolean
}

/**
 * Where one fetch session's blocks go while requests join and leave it. An output file being
 * assembled wins (the earliest still present): a `get -o` that joins a replica fetch already
 * under way then has the rest of the leaves written once, into its file, instead of into the
 * store and copied out at the end (256 MiB: 1.4 s and ~1 CPU-s more for the CLI's get right after
 * an add, docs/benchmarks.md). Else the starter's store while it takes part (its replica guard),
 * else the node's store, since a request that left may have closed its view.
 */
export class SessionSink {
  private readonly base: BlockStore
  private readonly entries: Entry[] = []
  /** The store the session writes through: reads from the node's store, puts to the chosen one */
  readonly store: BlockStore

  constructor (base: BlockStore) {
    this.base = base
    this.store = withPut(base, async (cid, bytes, options) => { await this.target().put(cid, bytes, options) })
  }

  /** A request joins; call the returned function when it leaves */
  join (participant: SinkParticipant): () => void {
    const entry: Entry = { ...participant, present: true, told: false }
    this.entries.push(entry)
    const present = this.entries.filter(e => e.present)
    if (present.length > 1) {
      for (const e of present) {
        if (e.told) continue
        e.told = true
        e.onShared?.()
      }
    }
    return () => {
      entry.present = false
      // a long session with many short joiners: forget the ones gone
      if (this.entries.length > 64) this.entries.splice(0, this.entries.length, ...this.entries.filter(e => e.present))
    }
  }

  /** Where the next block goes */
  target (): BlockStore {
    const chosen = this.entries.find(e => e.present && e.assembles === true && e.store != null) ??
      this.entries.find(e => e.present)
    return chosen?.store ?? this.base
  }
}
