import { PENALISED_REASONS, type DropReason, type FetchEvent } from './fetch-events.js'
import { Provider } from './provider.js'
import { DEFAULT_RECONNECT_ATTEMPTS, RECONNECT_DELAY_MS, type FetchOptions } from './session-options.js'
import type { ExchangeClient } from './client.js'
import type { PeerChannel } from './peer-channel.js'
import type { Wakeup } from './wakeup.js'
import type { KizunaError } from '../../errors.js'
import type { PeerId } from '@libp2p/interface'

/** What the pool needs from the session it serves */
export interface ProviderPoolHost {
  /** Aborted when the session ends */
  signal: AbortSignal
  /** Takes back the requests a dropped provider still owed */
  withdraw: (p: Provider) => void
  emit: (event: FetchEvent) => void
  wakeup: Wakeup
}

/**
 * The providers of one fetch session: taken from the provider source as it names them, dialled,
 * dropped when they fail or misbehave (penalised ones for good), and redialled a few times after
 * a lost connection or a stall.
 */
export class ProviderPool {
  private readonly opts: FetchOptions
  private readonly host: ProviderPoolHost
  private client!: ExchangeClient
  private readonly byKey = new Map<string, Provider>()
  /** Peer key → reconnects tried since it last delivered a block */
  private readonly reconnects = new Map<string, number>()
  private readonly reconnectTimers = new Set<ReturnType<typeof setTimeout>>()
  private sourceIterator?: AsyncIterator<PeerId> | Iterator<PeerId>
  private named = false
  private ended = false

  constructor (opts: FetchOptions, host: ProviderPoolHost) {
    this.opts = opts
    this.host = host
  }

  /** Whether the source named any provider at all */
  get everHadProvider (): boolean {
    return this.named
  }

  /** Whether the source has ended: no provider will be named any more */
  get sourceEnded (): boolean {
    return this.ended
  }

  /** Whether a dropped provider is waiting to be dialled again */
  get reconnecting (): boolean {
    return this.reconnectTimers.size > 0
  }

  get (key: string): Provider | undefined {
    return this.byKey.get(key)
  }

  list (): Provider[] {
    return [...this.byKey.values()]
  }

  /** Adds providers as the source names them, until it ends or the session does */
  async feed (client: ExchangeClient): Promise<void> {
    this.client = client
    const source = this.opts.providers
    const it: AsyncIterator<PeerId> | Iterator<PeerId> = Symbol.asyncIterator in source
      ? source[Symbol.asyncIterator]()
      : source[Symbol.iterator]()
    this.sourceIterator = it
    const signal = this.host.signal
    const stopped = new Promise<IteratorResult<PeerId>>(resolve => {
      signal.addEventListener('abort', () => { resolve({ done: true, value: undefined }) }, { once: true })
    })
    try {
      while (!signal.aborted) {
        const r = await Promise.race([it.next(), stopped])
        if (r.done === true) {
          break
        }
        this.add(r.value)
      }
    } catch {
      // a failing provider source ends the source, not the fetch: known providers carry on
    } finally {
      this.ended = true
      this.host.wakeup.wake()
    }
  }

  /** `p` delivered a block: it earns its reconnect attempts back */
  delivered (p: Provider): void {
    this.reconnects.delete(p.key)
  }

  channelClosed (p: Provider, ch: PeerChannel): void {
    if (p.channel !== ch || p.status === 'dropped') {
      return
    }
    const code = (ch.closeReason as KizunaError | undefined)?.code
    const misbehaved = code === 'ERR_MALFORMED_FRAME' || code === 'ERR_FRAME_TOO_LARGE' || code === 'ERR_PROTOCOL_VIOLATION'
    this.drop(p, misbehaved ? 'protocol-error' : 'disconnected', ch.closeReason)
  }

  drop (p: Provider, reason: DropReason, err?: Error): void {
    if (p.status === 'dropped') {
      return
    }
    p.status = 'dropped'
    const penalised = PENALISED_REASONS.has(reason)
    p.banned = penalised
    this.host.withdraw(p)
    if (reason === 'protocol-error' || reason === 'timeout') {
      // other sessions must not keep using a channel that broke the protocol or stalled; a bad
      // block drops the peer for this content only (bit rot happens to honest peers: their
      // other content is fine), and the penalty box decides whether it keeps happening
      this.client.closeChannel(p.peer, err)
    }
    if (!this.host.signal.aborted) {
      this.host.emit({ type: 'fetch:provider-dropped', peer: p.peer, reason, error: err })
      if (penalised) {
        try {
          this.opts.onPenalty?.(p.peer, reason, err)
        } catch {}
      }
      // a stall is not a lie: a loaded provider (or link) gets the same bounded redials as a
      // lost one, or a get whose only provider stalled twice would wait out its whole timeout
      if (reason === 'disconnected' || reason === 'dial-failed' || reason === 'timeout') {
        this.scheduleReconnect(p.peer)
      }
    }
    this.host.wakeup.wake()
  }

  /** Cancels every request and timer, and lets go of the shared channels and the source */
  stop (): void {
    for (const timer of this.reconnectTimers) {
      clearTimeout(timer)
    }
    this.reconnectTimers.clear()
    for (const p of this.byKey.values()) {
      for (const key of [...p.outstanding.keys()]) {
        p.remove(key)?.controller.abort()
      }
      p.detach()
    }
    const it = this.sourceIterator
    if (it?.return !== undefined) {
      // not awaited: a source blocked on the network may take long to notice
      void Promise.resolve().then(async () => it.return?.()).catch(() => {})
    }
  }

  private add (peer: PeerId): void {
    const key = peer.toString()
    const existing = this.byKey.get(key)
    if (existing !== undefined && (existing.status !== 'dropped' || existing.banned)) {
      return
    }
    const p = new Provider(peer)
    if (existing !== undefined) {
      // a reconnect: keep what it already delivered in the totals
      p.blocks = existing.blocks
      p.bytes = existing.bytes
    }
    this.byKey.set(key, p)
    this.named = true
    this.host.emit({ type: 'fetch:provider-added', peer })
    const signal = this.host.signal
    this.client.channel(peer, { signal }).then((ch) => {
      if (p.status !== 'connecting' || signal.aborted) {
        return
      }
      p.channel = ch
      p.status = 'ready'
      // the channel outlives this session; the listener must not (see stop)
      const onClose = (): void => { this.channelClosed(p, ch) }
      ch.addEventListener('close', onClose, { once: true })
      p.detach = () => { ch.removeEventListener('close', onClose) }
      if (ch.closed) {
        this.channelClosed(p, ch)
      }
      this.host.wakeup.wake()
    }, (err) => {
      this.drop(p, 'dial-failed', err)
    })
  }

  private scheduleReconnect (peer: PeerId): void {
    const key = peer.toString()
    const attempts = this.reconnects.get(key) ?? 0
    if (attempts >= (this.opts.reconnectAttempts ?? DEFAULT_RECONNECT_ATTEMPTS)) {
      return
    }
    this.reconnects.set(key, attempts + 1)
    const timer = setTimeout(() => {
      this.reconnectTimers.delete(timer)
      if (!this.host.signal.aborted) {
        this.add(peer)
      }
      this.host.wakeup.wake()
    }, RECONNECT_DELAY_MS * 2 ** attempts)
    this.reconnectTimers.add(timer)
  }
}
