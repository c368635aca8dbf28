import { setMaxListeners } from '@libp2p/interface'
import * as raw from 'multiformats/codecs/raw'
import { blockKey, childLinks } from '../../content/index.js'
import type { BlockStore } from '../../content/index.js'
import { KizunaError } from '../../errors.js'
import { ExchangeClient } from './client.js'
import { DagDiscovery } from './dag-discovery.js'
import { AbortedError, FetchFailedError, NoProvidersError } from '../errors.js'
import { FetchTally } from './fetch-tally.js'
import { DEFAULT_MAX_PROCESSING_BYTES, DEFAULT_PROVIDER_TIMEOUT_MS, type FetchOptions } from './session-options.js'
import { ProviderPool } from './session-providers.js'
import { RequestScheduler } from './session-scheduler.js'
import { Wakeup } from './wakeup.js'
import { blockBufferPool } from '../../util/block-buffer-pool.js'
import type { FetchEvent, FetchProgressEvent } from './fetch-events.js'
import type { Provider } from './provider.js'
import type { CID } from 'multiformats/cid'

export * from './fetch-events.js'
export * from './session-options.js'

/** Undelivered events beyond which the session stops requesting, so a stalled consumer stalls it */
const MAX_PENDING_EVENTS = 1024

/**
 * Fetches the DAG under `root` into `blockStore`, yielding progress as it goes. Starts with the
 * first provider, walks the DAG as blocks arrive (children from dag-pb links), skips what is
 * already stored, spreads requests over providers by measured throughput, verifies every block
 * before storing it, and re-queues whatever a dropped provider still owed.
 */
export function fetchDag (root: CID, options: FetchOptions): AsyncGenerator<FetchEvent, void, undefined> {
  return new FetchSession(root, options).run()
}

function isBadBlock (err: unknown): boolean {
  const code = (err as { code?: string } | undefined)?.code
  return code === 'ERR_BLOCK_HASH_MISMATCH' || code === 'ERR_BLOCK_TOO_LARGE'
}

/**
 * One fetchDag run: the loop that yields events and decides when the fetch is done or stuck,
 * and the storing of received blocks. Providers, requests and the DAG walk are kept by the
 * parts it wires together below.
 */
export class FetchSession {
  private readonly root: CID
  private readonly opts: FetchOptions
  private readonly store: BlockStore
  private client!: ExchangeClient
  private ownClient = false
  private readonly controller = new AbortController()
  private readonly wakeup = new Wakeup()
  private readonly providers: ProviderPool
  private readonly requests: RequestScheduler
  private readonly discovery: DagDiscovery
  private readonly events: FetchEvent[] = []
  private progressQueued = false
  private processing = 0
  private processingBytes = 0
  /** Blocks being processed or walked locally that may still reveal more blocks */
  private expanding = 0
  private readonly tally = new FetchTally()
  private failure?: Error
  private stallTimer?: ReturnType<typeof setTimeout>

  constructor (root: CID, options: FetchOptions) {
    this.root = root
    this.opts = options
    this.store = options.blockStore
    // every store call and dial in flight listens on this signal
    setMaxListeners(Infinity, this.controller.signal)
    const signal = this.controller.signal
    const wakeup = this.wakeup
    // the parts reach each other through the session: a dropped provider's requests go back to
    // the scheduler, and the scheduler's verdicts on replies drop providers
    this.providers = new ProviderPool(options, {
      signal,
      withdraw: (p) => { this.requests.withdraw(p) },
      emit: (event) => { this.emit(event) },
      wakeup
    })
    this.requests = new RequestScheduler(options, {
      provider: (key) => this.providers.get(key),
      drop: (p, reason, err) => { this.providers.drop(p, reason, err) },
      channelFailed: (p, channel) => { this.providers.channelClosed(p, channel) },
      received: (cid, bytes, from) => {
        this.providers.delivered(from)
        void this.process(cid, bytes, from)
      },
      fail: (err) => { this.fail(err) },
      wakeup
    })
    this.discovery = new DagDiscovery({
      store: this.store,
      signal,
      onMissing: (block) => {
        this.requests.enqueue(block)
        this.wakeup.wake()
      },
      onLocal: (bytes) => { this.tally.foundLocally(bytes) }
    })
  }

  async * run (): AsyncGenerator<FetchEvent, void, undefined> {
    const outer = this.opts.signal
    const onAbort = (): void => { this.fail(new AbortedError('fetch aborted', { cause: outer?.reason })) }
    outer?.addEventListener('abort', onAbort)
    try {
      if (outer?.aborted === true) {
        throw new AbortedError('fetch aborted', { cause: outer.reason })
      }
      await this.setupClient()
      void this.providers.feed(this.client)
      void this.discover([this.root])
      while (true) {
        this.schedule()
        while (this.events.length > 0) {
          const next = this.events.shift() as FetchEvent
          if (next.type === 'fetch:progress') {
            this.progressQueued = false
            yield this.progress()
          } else {
            yield next
          }
          // the consumer may have taken its time: top the pipelines up before the next event
          this.schedule()
        }
        if (this.failure !== undefined) {
          throw this.failure
        }
        if (this.isComplete()) {
          break
        }
        this.checkStall()
        await this.wakeup.sleep()
      }
      yield this.doneEvent()
    } finally {
      outer?.removeEventListener('abort', onAbort)
      await this.cleanup()
    }
  }

  private async setupClient (): Promise<void> {
    if (this.opts.client !== undefined) {
      this.client = this.opts.client
      return
    }
    if (this.opts.dialer === undefined) {
      throw new KizunaError('ERR_INVALID_PARAMETERS', 'fetchDag needs a client or a dialer')
    }
    this.client = new ExchangeClient({ dialer: this.opts.dialer })
    this.ownClient = true
    await this.client.start()
  }

  private schedule (): void {
    if (this.failure !== undefined || this.controller.signal.aborted) {
      return
    }
    if (this.events.length > MAX_PENDING_EVENTS || this.processingBytes > (this.opts.maxProcessingBytes ?? DEFAULT_MAX_PROCESSING_BYTES)) {
      return
    }
    const now = performance.now()
    const ready = this.providers.list().filter(p => p.status === 'ready')
    if (ready.length === 0) {
      return
    }
    this.requests.schedule(ready, now, this.expanding > 0)
  }

  private async process (cid: CID, bytes: Uint8Array, from: Provider): Promise<void> {
    const size = bytes.byteLength
    const mayHaveLinks = cid.code !== raw.code
    this.processing++
    this.processingBytes += size
    if (mayHaveLinks) {
      this.expanding++
    }
    try {
      const links = childLinks(cid, bytes)
      // verified above (unless the caller left verification to the store): hash once, not twice
      // queued only because discover() found it absent, so the store need not look again
      const verified = this.opts.verifyBeforePut !== false || cid.code !== raw.code
      const stored = this.store.put(cid, bytes, { signal: this.controller.signal, verified, absent: true })
      if (verified) {
        // the output file is written alongside the store, not after it: both wait on the disk
        await Promise.all([stored, this.opts.onBlock?.(cid, bytes)])
      } else {
        // only the store's check says whether these bytes are the block
        await stored
        await this.opts.onBlock?.(cid, bytes)
      }
      this.requests.noteSize(cid, size)
      this.tally.fetched(size)
      this.emit({ type: 'fetch:block', cid, bytes: size, from: from.peer })
      this.emitProgress()
      if (links.length > 0) {
        await this.discover(links)
      }
    } catch (err) {
      if (isBadBlock(err) && !this.controller.signal.aborted) {
        // only reachable with verifyBeforePut: false, where the store did the checking
        this.providers.drop(from, 'bad-block', err as Error)
        this.requests.retry({ cid, key: blockKey(cid) })
      } else {
        this.fail(err)
      }
    } finally {
      // Back to the pool once the store is done with the bytes (put settled: written or copied).
      // Not a dag-pb node: the CIDs of its links are views of these bytes.
      if (!mayHaveLinks && this.store.putReleasesBytes === true) {
        blockBufferPool.release(bytes)
      }
      this.processing--
      this.processingBytes -= size
      if (mayHaveLinks) {
        this.expanding--
      }
      this.wakeup.wake()
    }
  }

  /**
   * Queues the not-yet-seen blocks among `cids`, and walks the ones already stored locally
   * (resume) so their children are found without fetching anything.
   */
  private async discover (cids: CID[]): Promise<void> {
    this.expanding++
    try {
      await this.discovery.discover(cids)
    } catch (err) {
      this.fail(err)
    } finally {
      this.expanding--
      this.wakeup.wake()
    }
  }

  // ---- completion ------------------------------------------------------------------------------

  private isComplete (): boolean {
    return this.requests.queued === 0 && this.requests.inFlight === 0 && this.processing === 0 && this.expanding === 0
  }

  /**
   * Fails the fetch when nothing can make progress: at once if no provider source remains,
   * otherwise after the provider timeout, giving the DHT time to name someone new.
   */
  private checkStall (): void {
    const busy = this.requests.inFlight > 0 || this.processing > 0 || this.expanding > 0
    const providers = this.providers.list()
    const hope = this.providers.reconnecting || providers.some(p => p.status === 'connecting') ||
      providers.some(p => p.status === 'ready' && this.requests.hasWorkFor(p))
    if (busy || hope) {
      this.clearStallTimer()
      return
    }
    if (this.providers.sourceEnded) {
      this.fail(this.stallError('every provider was tried'))
      return
    }
    if (this.stallTimer === undefined) {
      const ms = this.opts.providerTimeoutMs ?? DEFAULT_PROVIDER_TIMEOUT_MS
      this.stallTimer = setTimeout(() => {
        this.stallTimer = undefined
        this.fail(this.stallError(`no usable provider for ${ms} ms`))
      }, ms)
    }
  }

  private stallError (reason: string): Error {
    if (!this.providers.everHadProvider) {
      return new NoProvidersError(this.root, this.providers.sourceEnded ? 'the provider source named none' : reason)
    }
    return new FetchFailedError(this.root, this.requests.remaining(), reason)
  }

  private clearStallTimer (): void {
    if (this.stallTimer !== undefined) {
      clearTimeout(this.stallTimer)
      this.stallTimer = undefined
    }
  }

  private fail (err: unknown): void {
    if (this.failure === undefined) {
      this.failure = err instanceof Error ? err : new KizunaError('ERR_FETCH_FAILED', String(err))
    }
    this.controller.abort()
    this.wakeup.wake()
  }

  // ---- events ----------------------------------------------------------------------------------

  private emit (event: FetchEvent): void {
    this.events.push(event)
    this.wakeup.wake()
  }

  /** Progress is coalesced: at most one queued, filled in when it is yielded */
  private emitProgress (): void {
    if (!this.progressQueued) {
      this.progressQueued = true
      this.emit({ type: 'fetch:progress' } as FetchProgressEvent)
    }
  }

  private progress (): FetchProgressEvent {
    return this.tally.progress({
      blocksQueued: this.requests.queued,
      blocksInFlight: this.requests.inFlight,
      peers: this.providers.list().filter(p => p.status === 'ready').length
    })
  }

  private doneEvent (): FetchEvent {
    return this.tally.done(this.root, this.requests.duplicateBlocks, this.requests.wastedBytes, this.providers.list())
  }

  private async cleanup (): Promise<void> {
    this.controller.abort()
    this.clearStallTimer()
    this.requests.stop()
    this.providers.stop()
    if (this.ownClient) {
      await this.client.stop()
    }
  }
}
