import { createLibp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { noise } from '@libp2p/noise'
import { yamux } from '@libp2p/yamux'
import { identify } from '@libp2p/identify'
import { ping } from '@libp2p/ping'
import { kadDHT, passthroughMapper } from '@libp2p/kad-dht'
import { bootstrap } from '@libp2p/bootstrap'
import { mdns } from '@libp2p/mdns'
import type { Metrics, PeerDiscovery, PrivateKey } from '@libp2p/interface'
import type { Datastore } from 'interface-datastore'
import type { KizunaConfig } from './config.js'
import { PeerStoreCache } from './peer-store-cache.js'
import { KIZUNA_DHT_PROTOCOL, KIZUNA_PROTOCOL_PREFIX, type KizunaLibp2p } from '../libp2p/types.js'

export interface Libp2pAssemblyOptions {
  config: KizunaConfig
  privateKey: PrivateKey
  datastore: Datastore
  /** A libp2p metrics component (the daemon's Prometheus registry, see src/telemetry/metrics.ts) */
  metrics?: (components: any) => Metrics
}

export async function assembleLibp2p ({ config, privateKey, datastore, metrics }: Libp2pAssemblyOptions): Promise<KizunaLibp2p> {
  const peerDiscovery: Array<(components: any) => PeerDiscovery> = []
  if (config.bootstrap.length > 0) {
    peerDiscovery.push(bootstrap({ list: config.bootstrap, timeout: 0 }))
  }
  if (config.mdns) {
    peerDiscovery.push(mdns({ serviceTag: 'kizuna.local' }))
  }

  const libp2p = await createLibp2p({
    privateKey,
    datastore,
    metrics,
    addresses: { listen: config.listen },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    peerDiscovery,
    connectionManager: {
      maxConnections: config.limits.maxConnections,
      inboundConnectionThreshold: config.limits.inboundConnectionsPerIpPerSecond,
      maxIncomingPendingConnections: Math.max(10, config.limits.inboundConnectionsPerIpPerSecond),
      dialTimeout: config.dialTimeout * 1000
    },
    // Liveness rounds (src/peers/liveness.ts) ping every known peer and decide when one is gone.
    // libp2p's own monitor would abort a busy bulk-transfer connection whose heartbeat is late on
    // a loaded machine, and its pings only repeated ours: every ping is a new stream, which both
    // ends pay for, in every pair of a swarm (an idle 17-daemon swarm: 0.186 cores with it, 0.159
    // without, after 2 minutes of settling)
    connectionMonitor: { enabled: false },
    services: {
      identify: identify({ protocolPrefix: KIZUNA_PROTOCOL_PREFIX }),
      // liveness rounds and Kademlia's contact checks both ping, so one stream per direction is too few
      ping: ping({ protocolPrefix: KIZUNA_PROTOCOL_PREFIX, timeout: config.pingTimeout * 1000, maxOutboundStreams: 4, maxInboundStreams: 8 }),
      dht: kadDHT({
        protocol: KIZUNA_DHT_PROTOCOL,
        // a Kizuna node always answers queries: on loopback/LAN no public address ever appears,
        // and the default client mode would then never serve anyone
        clientMode: false,
        // keep private and loopback addresses: Kizuna swarms live on LANs and 127.0.0.1 too
        peerInfoMapper: passthroughMapper,
        initialQuerySelfInterval: 1000,
        allowQueryWithZeroPeers: false
      })
    }
  })
  PeerStoreCache.install(libp2p.peerStore)
  return libp2p
}
