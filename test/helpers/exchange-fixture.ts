import { afterEach } from 'vitest'
import type { Libp2p } from '@libp2p/interface'
import { ExchangeClient } from '../../src/exchange/client/client.js'
import { ExchangeServer, type ExchangeServerInit } from '../../src/exchange/server/server.js'
import type { BlockStore } from '../../src/content/blocks/block-store.js'
import { createBareNode, introduce, stopAll } from './bare-node.js'

/**
 * Bare libp2p nodes with an exchange server or client, all stopped after each test. Call it
 * at the top level of a test file: it registers its own afterEach.
 */
export function useExchangeFixture (): {
  node: () => Promise<Libp2p>
  provider: (store: BlockStore, init?: ExchangeServerInit) => Promise<{ node: Libp2p, server: ExchangeServer }>
  fetcher: (peers: Libp2p[]) => Promise<{ node: Libp2p, client: ExchangeClient }>
  /** stops a service made by hand after the test, with the others */
  adopt: (service: { stop: () => Promise<void> }) => void
} {
  const nodes: Libp2p[] = []
  const services: Array<{ stop: () => Promise<void> }> = []

  afterEach(async () => {
    await Promise.allSettled(services.splice(0).map(async s => s.stop()))
    await stopAll(nodes.splice(0))
  })

  async function node (): Promise<Libp2p> {
    const n = await createBareNode()
    nodes.push(n)
    return n
  }

  async function provider (store: BlockStore, init?: ExchangeServerInit): Promise<{ node: Libp2p, server: ExchangeServer }> {
    const n = await node()
    const server = new ExchangeServer({ registrar: n, blockStore: store }, init)
    await server.start()
    services.push(server)
    return { node: n, server }
  }

  async function fetcher (peers: Libp2p[]): Promise<{ node: Libp2p, client: ExchangeClient }> {
    const n = await node()
    for (const p of peers) {
      await introduce(n, p)
    }
    const client = new ExchangeClient({ dialer: n })
    await client.start()
    services.push(client)
    return { node: n, client }
  }

  return { node, provider, fetcher, adopt: service => { services.push(service) } }
}
