import { EXCHANGE_PROTOCOL } from '../wire/codec.js'
import { AbortedError, ChannelClosedError } from '../errors.js'
import { PeerMap } from '@libp2p/peer-collections'
import { raceSignal } from 'race-signal'
import { PeerChannel, type HaveResult, type PeerChannelInit, type RequestOptions, type WantResult } from './peer-channel.js'
import type { AbortOptions, Connection, PeerId, Stream } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'
import { timeoutSignal } from '../../util/timeout-signal.js'

/** Opening a stream on an existing connection takes ms; a fresh dial on a LAN well under this */
export const DEFAULT_DIAL_TIMEOUT_MS = 10_000

/** What the client needs from libp2p; a Libp2p node fits */
export interface ExchangeDialer {
  /** Without runOnLimitedConnection: a stream that may carry blocks (src/nat/bulk-dialer.ts) */
  dialProtocol(peer: PeerId, protocol: string, options?: AbortOptions & { runOnLimitedConnection?: boolean }): Promise<Stream>
  getConnections?(peer: PeerId): Connection[]
}

export interface ExchangeClientComponents {
  dialer: ExchangeDialer
}

export interface ExchangeClientInit extends PeerChannelInit {
  protocol?: string
  dialTimeoutMs?: number
}

/**
 * Keeps one PeerChannel (one stream) per peer and reuses it for every request to that peer,
 * reopening it after it closes. Sessions for different roots share the channels.
 */
export class ExchangeClient {
  readonly protocol: string
  private readonly components: ExchangeClientComponents
  private readonly init: ExchangeClientInit
  private readonly dialTimeoutMs: number
  private readonly channels = new PeerMap<PeerChannel>()
  private readonly dialing = new PeerMap<Promise<PeerChannel>>()
  /** Channels for HAVE queries to peers we reach only through a relay (no blocks on them) */
  private readonly controlChannels = new PeerMap<PeerChannel>()
  private readonly controlDialing = new PeerMap<Promise<PeerChannel>>()
  private started = false
  private stopController = new AbortController()

  constructor (components: ExchangeClientComponents, init: ExchangeClientInit = {}) {
    this.components = components
    this.init = { ...init, onLateBlock: bytes => { this.lateBlockBytes += bytes } }
    this.protocol = init.protocol ?? EXCHANGE_PROTOCOL
    this.dialTimeoutMs = init.dialTimeoutMs ?? DEFAULT_DIAL_TIMEOUT_MS
  }

  /** Bytes of blocks that arrived after their request was cancelled (an endgame twin won, a session ended) */
  lateBlockBytes = 0

  readonly [Symbol.toStringTag] = 'kizuna/exchange-client'

  isStarted (): boolean {
    return this.started
  }

  async start (): Promise<void> {
    if (this.started) {
      return
    }
    this.started = true
    this.stopController = new AbortController()
  }

  async stop (): Promise<void> {
    if (!this.started) {
      return
    }
    this.started = false
    this.stopController.abort()
    for (const ch of [...this.channels.values(), ...this.controlChannels.values()]) {
      ch.abort(new ChannelClosedError('client stopping'))
    }
    this.channels.clear()
    this.dialing.clear()
    this.controlChannels.clear()
    this.controlDialing.clear()
  }

  /** The open channel to `peer`, dialing one if needed; concurrent callers share one dial */
  async channel (peer: PeerId, options: AbortOptions = {}): Promise<PeerChannel> {
    if (!this.started) {
      throw new ChannelClosedError('client is not started')
    }
    const open = this.channels.get(peer)
    if (open !== undefined && !open.closed) {
      return open
    }
    let dial = this.dialing.get(peer)
    if (dial === undefined) {
      dial = this.dial(peer, this.channels, false)
      this.dialing.set(peer, dial)
      dial.finally(() => { this.dialing.delete(peer) }).catch(() => {})
    }
    return raceSignal(dial, options.signal, {
      translateError: (signal) => new AbortedError('aborted', { cause: signal.reason })
    })
  }

  /**
   * A channel for HAVE queries: the block channel when one is open or a direct connection
   * exists, else one that may run on a relayed connection (src/nat/bulk-dialer.ts)
   */
  async controlChannel (peer: PeerId, options: AbortOptions = {}): Promise<PeerChannel> {
    const open = this.openChannel(peer)
    if (open !== undefined) return open
    const direct = this.components.dialer.getConnections?.(peer).some(c => c.limits == null)
    if (direct !== false) return this.channel(peer, options)
    if (!this.started) {
      throw new ChannelClosedError('client is not started')
    }
    const control = this.controlChannels.get(peer)
    if (control !== undefined && !control.closed) return control
    let dial = this.controlDialing.get(peer)
    if (dial === undefined) {
      dial = this.dial(peer, this.controlChannels, true)
      this.controlDialing.set(peer, dial)
      dial.finally(() => { this.controlDialing.delete(peer) }).catch(() => {})
    }
    return raceSignal(dial, options.signal, {
      translateError: (signal) => new AbortedError('aborted', { cause: signal.reason })
    })
  }

  /** The channel to `peer` if one is open, without dialing */
  openChannel (peer: PeerId): PeerChannel | undefined {
    const ch = this.channels.get(peer)
    return ch?.closed === false ? ch : undefined
  }

  /** Aborts the channel to `peer`, e.g. after it misbehaved */
  closeChannel (peer: PeerId, err: Error = new ChannelClosedError('closed by client')): void {
    this.channels.get(peer)?.abort(err)
    this.channels.delete(peer)
  }

  async want (peer: PeerId, cid: CID, options: RequestOptions = {}): Promise<WantResult> {
    const ch = await this.channel(peer, options)
    return ch.want(cid, options)
  }

  /** Asks `peer` directly whether it has the DAG under `root` */
  async queryHave (peer: PeerId, root: CID, options: RequestOptions = {}): Promise<HaveResult> {
    const ch = await this.controlChannel(peer, options)
    return ch.queryHave(root, options)
  }

  private async dial (peer: PeerId, channels: PeerMap<PeerChannel>, limited: boolean): Promise<PeerChannel> {
    // the dial belongs to the client, not to whichever caller happened to start it
    const signal = AbortSignal.any([this.stopController.signal, timeoutSignal(this.dialTimeoutMs)])
    const stream = await this.components.dialer.dialProtocol(peer, this.protocol, limited ? { signal, runOnLimitedConnection: true } : { signal })
    const ch = new PeerChannel(stream, peer, this.init)
    if (!this.started) {
      ch.abort(new ChannelClosedError('client stopped while dialing'))
      throw new ChannelClosedError('client stopped while dialing')
    }
    // a control dial that found (or made) a direct connection opened its stream there: libp2p
    // prefers an unlimited connection, so the channel may carry blocks and is the block channel
    const target = limited && this.components.dialer.getConnections?.(peer).some(c => c.limits == null && c.status === 'open') === true
      ? this.channels
      : channels
    target.set(peer, ch)
    ch.addEventListener('close', () => {
      if (target.get(peer) === ch) {
        target.delete(peer)
      }
    }, { once: true })
    return ch
  }
}

/** Asks `peer` directly whether it has the content under `root` */
export async function queryHave (client: ExchangeClient, peer: PeerId, root: CID, options?: RequestOptions): Promise<HaveResult> {
  return client.queryHave(peer, root, options)
}
