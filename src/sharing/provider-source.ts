import type { PeerId } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'
import { parsePeerMultiaddr } from '../peers/address.js'
import type { KizunaLibp2p } from '../libp2p/types.js'
import type { ExchangeClient } from '../exchange/client/client.js'
import type { PenaltyBox } from './penalties.js'
import { timeoutSignal } from '../util/timeout-signal.js'

/** DHT provider queries repeated while a download still runs, for providers that appear late */
export const DEFAULT_DHT_ROUNDS = 4
/**
 * Later DHT rounds are skipped once this many providers are known: the swarm is found, and every
 * round walks the DHT, which costs every node it touches a peer-store merge per peer it hears of
 */
export const DHT_ENOUGH_PROVIDERS = 6
/** Pause between DHT provider query rounds */
export const DHT_ROUND_PAUSE_MS = 3_000
/**
 * With `connectedFirst`, the first DHT round waits this long for a connected peer to say it has
 * the whole content (Bitswap's provider search delay), unless every connected peer has answered
 * before. One walk costs a 17-node swarm ~0.5 CPU-s: a crowd of 16 walking at once was a fifth of
 * its CPU, to find the publisher every one of them was already connected to.
 */
export const DHT_SEARCH_DELAY_MS = 1_000
/**
 * While a download runs, connected peers that did not have the content are asked again this
 * often: in a crowd they are downloading it too, and soon hold blocks to trade
 */
export const CONNECTED_REQUERY_MS = 2_000
/** A HAVE query to one connected peer may take this long */
export const HAVE_QUERY_TIMEOUT_MS = 5_000

export type ProviderOrigin = 'hint' | 'connected' | 'dht'

export interface ProviderSearchOptions {
  hints?: string[]
  signal: AbortSignal
  dhtRounds?: number
  /** false: no HAVE query to connected peers (holder counts, which would read it as demand) */
  askConnected?: boolean
  /** Ask connected peers that did not have it again every CONNECTED_REQUERY_MS */
  requeryConnected?: boolean
  /**
   * Walk the DHT only when the connected peers do not already give a whole holder:
   * a fetch, which needs a source, not a list of every holder
   */
  connectedFirst?: boolean
}

export interface FoundProvider {
  peerId: PeerId
  origin: ProviderOrigin
  /** what the peer said it has, when it was asked directly */
  has?: 'partial' | 'full'
}

export interface ProviderSourceComponents {
  libp2p: KizunaLibp2p
  client: ExchangeClient
  penalties: PenaltyBox
}

/**
 * Finds holders of `root` three ways at once — link hints, a direct HAVE query to every
 * connected peer, and the DHT — yielding each new one as soon as it is known, so a download
 * starts on the first answer and keeps gaining providers as the others come in.
 */
export async function * findProviders (root: CID, components: ProviderSourceComponents, options: ProviderSearchOptions): AsyncGenerator<FoundProvider> {
  const { libp2p, client, penalties } = components
  const seen = new Set<string>([libp2p.peerId.toString()])
  /**
   * a connected peer said it holds all of it: the first DHT round is not needed. A link's hint
   * does not count: its address may be stale, and a get must not wait for the DHT because of it.
   */
  let wholeFound = false
  let firstAsksLeft = 0
  /** ends the wait before the first DHT round (see untilFirstAnswers) */
  let stopWaiting: (() => void) | undefined
  const queue: FoundProvider[] = []
  let wake: (() => void) | undefined
  let running = 0

  const offer = (found: FoundProvider): void => {
    const id = found.peerId.toString()
    if (seen.has(id) || penalties.isPenalised(id)) return
    seen.add(id)
    if (found.has === 'full') {
      wholeFound = true
      stopWaiting?.()
    }
    queue.push(found)
    wake?.()
  }
  const task = (body: () => Promise<void>): void => {
    running++
    body().catch(() => {}).finally(() => { running--; wake?.() })
  }

  for (const hint of options.hints ?? []) {
    task(async () => {
      const { ma, peerId } = parsePeerMultiaddr(hint)
      await libp2p.peerStore.merge(peerId, { multiaddrs: [ma.decapsulateCode(421)] })
      offer({ peerId, origin: 'hint' })
    })
  }

  const asking = new Set<string>()
  const askConnected = (first: boolean): void => {
    for (const connection of libp2p.getConnections()) {
      const peerId = connection.remotePeer
      const id = peerId.toString()
      // a penalised peer is not asked: its answer would not be used, and asking costs us a stream
      if (seen.has(id) || asking.has(id) || penalties.isPenalised(id)) continue
      asking.add(id)
      if (first) firstAsksLeft++
      task(async () => {
        try {
          const signal = AbortSignal.any([options.signal, timeoutSignal(HAVE_QUERY_TIMEOUT_MS)])
          const answer = await client.queryHave(peerId, root, { signal })
          if (answer.has !== 'none') offer({ peerId, origin: 'connected', has: answer.has })
        } finally {
          asking.delete(id)
          if (first && --firstAsksLeft === 0) stopWaiting?.()
        }
      })
    }
  }
  if (options.askConnected !== false) askConnected(true)
  if (options.askConnected !== false && options.requeryConnected === true) {
    task(async () => {
      while (!options.signal.aborted) {
        await abortableSleep(CONNECTED_REQUERY_MS, options.signal)
        askConnected(false)
      }
    })
  }

  task(async () => {
    const rounds = options.dhtRounds ?? DEFAULT_DHT_ROUNDS
    for (let round = 0; round < rounds && !options.signal.aborted; round++) {
      if (round === 0 && options.connectedFirst === true && options.askConnected !== false) {
        await untilFirstAnswers(DHT_SEARCH_DELAY_MS)
        if (wholeFound) continue
      }
      if (round > 0) {
        await abortableSleep(DHT_ROUND_PAUSE_MS * round, options.signal)
        // the get ended during the pause: a walk with its aborted signal only counts an error
        if (options.signal.aborted) break
        // seen holds this node too
        if (seen.size - 1 >= DHT_ENOUGH_PROVIDERS) continue
      }
      for await (const event of libp2p.services.dht.findProviders(root, { signal: options.signal })) {
        if (event.name !== 'PROVIDER') continue
        for (const provider of event.providers) {
          if (provider.multiaddrs.length > 0) {
            await libp2p.peerStore.merge(provider.id, { multiaddrs: provider.multiaddrs }).catch(() => {})
          }
          offer({ peerId: provider.id, origin: 'dht' })
        }
      }
    }
  })

  /** Waits until a whole holder is found, every first HAVE query is answered, or `ms` pass */
  async function untilFirstAnswers (ms: number): Promise<void> {
    if (wholeFound || firstAsksLeft === 0) return
    await new Promise<void>(resolve => {
      const timer = setTimeout(done, ms)
      function done (): void {
        clearTimeout(timer)
        options.signal.removeEventListener('abort', done)
        stopWaiting = undefined
        resolve()
      }
      stopWaiting = done
      options.signal.addEventListener('abort', done, { once: true })
    })
  }

  while (true) {
    while (queue.length > 0) {
      yield queue.shift()!
    }
    if (running === 0 || options.signal.aborted) return
    await new Promise<void>(resolve => { wake = resolve })
    wake = undefined
  }
}

async function abortableSleep (ms: number, signal: AbortSignal): Promise<void> {
  await new Promise<void>(resolve => {
    const timer = setTimeout(resolve, ms)
    signal.addEventListener('abort', () => { clearTimeout(timer); resolve() }, { once: true })
  })
}
