import '../../src/shim.js'
import { identify } from '@libp2p/identify'
import { noise } from '@libp2p/noise'
import { tls } from '@libp2p/tls'
import { tcp } from '@libp2p/tcp'
import { yamux } from '@libp2p/yamux'
import { createLibp2p, type Libp2p } from 'libp2p'

export interface BareNodeOptions {
  /** Extra yamux settings, e.g. a smaller maxStreamWindowSize to provoke backpressure */
  yamux?: Parameters<typeof yamux>[0]
  /** Connection encryption (default noise); daemons prefer TLS, which buffers plaintext differently */
  encrypter?: 'noise' | 'tls'
}

/**
 * A minimal real libp2p node for tests: TCP on 127.0.0.1 (random port), Noise (or TLS), Yamux, identify.
 * The per-IP inbound limit is raised because every loopback peer shares 127.0.0.1 and tests open
 * connections faster than the default ~5 per second would allow.
 */
export async function createBareNode (options: BareNodeOptions = {}): Promise<Libp2p> {
  return createLibp2p({
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionEncrypters: [options.encrypter === 'tls' ? tls() : noise()],
    streamMuxers: [yamux(options.yamux)],
    connectionManager: {
      inboundConnectionThreshold: 1000,
      maxIncomingPendingConnections: 100
    },
    services: {
      identify: identify()
    }
  })
}

/** Makes `from` able to dial `to` by peer id (tests have no discovery) */
export async function introduce (from: Libp2p, to: Libp2p): Promise<void> {
  await from.peerStore.merge(to.peerId, { multiaddrs: to.getMultiaddrs() })
}

export async function stopAll (nodes: Array<Libp2p | undefined>): Promise<void> {
  await Promise.allSettled(nodes.map(async n => n?.stop()))
}
