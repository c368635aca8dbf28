import { createLibp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { noise } from '@libp2p/noise'
import { tls } from '@libp2p/tls'
import { yamux } from '@libp2p/yamux'
import { identify } from '@libp2p/identify'
import { ping } from '@libp2p/ping'
import { kadDHT, passthroughMapper } from '@libp2p/kad-dht'
import { bootstrap } from '@libp2p/bootstrap'
import { circuitRelayServer, circuitRelayTransport } from '@libp2p/circuit-relay-v2'
import { gossipsub } from '@libp2p/gossipsub'
import { MAX_TOPIC_MESSAGE_BYTES } from '../messaging/topic-service.js'
import type { Metrics, PeerDiscovery, PeerId, PrivateKey } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { Datastore } from 'interface-datastore'
import type { KizunaConfig } from './config.js'
import { PeerStoreCache } from './peer-store-cache.js'
import { KIZUNA_DHT_PROTOCOL, KIZUNA_PROTOCOL_PREFIX, type KizunaLibp2p, type NatComponents } from '../libp2p/types.js'
import { AddressPolicy, type DhtRpc } from './address-policy.js'
import { InboundUpgradeSlots, MAX_PENDING_INBOUND_UPGRADES } from './inbound-upgrades.js'

/** A service that hands the NAT service the two internal components it needs, the libp2p way */
function natComponents (): (components: NatComponents) => NatComponents {
  return ({ transportManager, addressManager }) => ({ transportManager, addressManager })
}

/** QUIC listens on the same host and port as each TCP listen address (UDP and TCP ports do not clash) */
export function quicListenAddrs (listen: string[]): string[] {
  const out: string[] = []
  for (const addr of listen) {
    const match = /^\/(ip4|ip6)\/([^/]+)\/tcp\/(\d+)$/.exec(addr)
    if (match != null) out.push(`/${match[1]}/${match[2]}/udp/${match[3]}/quic-v1`)
  }
  return out
}

function isLoopbackListen (addr: string): boolean {
  return /^\/ip4\/127\./.test(addr) || /^\/ip6\/::1\//.test(addr)
}

export interface Libp2pAssemblyOptions {
  config: KizunaConfig
  privateKey: PrivateKey
  datastore: Datastore
  /** A libp2p metrics component (the daemon's Prometheus registry, see src/telemetry/metrics.ts) */
  metrics?: (components: any) => Metrics
}

const POLICIES = new WeakMap<object, AddressPolicy>()

/** The addresses of `peerId` among `addrs` that this node can dial (what its peer store keeps) */
export function dialableAddrs (libp2p: KizunaLibp2p, peerId: PeerId, addrs: Multiaddr[]): Multiaddr[] {
  const policy = POLICIES.get(libp2p)
  return policy == null ? addrs : addrs.filter(ma => policy.keep(peerId, ma))
}

/**
 * Encrypters, most preferred first: TLS 1.3 moves bulk data with less CPU than Noise
 * (docs/benchmarks.md, transfer); Noise stays offered, so Noise-only nodes still connect
 */
export function connectionEncrypters (): [ReturnType<typeof tls>, ReturnType<typeof noise>] {
  return [tls(), noise()]
}

export async function assembleLibp2p ({ config, privateKey, datastore, metrics }: Libp2pAssemblyOptions): Promise<KizunaLibp2p> {
  const peerDiscovery: Array<(components: any) => PeerDiscovery> = []
  if (config.bootstrap.length > 0) {
    peerDiscovery.push(bootstrap({ list: config.bootstrap, timeout: 0 }))
  }
  // features switched off are not even loaded: an idle daemon's memory is mostly module code
  // (docs/benchmarks.md, idle), and UPnP alone brings ~45 modules (ssdp, xml2js)
  if (config.mdns) {
    const { mdns } = await import('@libp2p/mdns')
    peerDiscovery.push(mdns({ serviceTag: 'kizuna.local' }))
  }

  // what we announce, keep and hand on about addresses (src/node/address-scope.ts)
  const addressPolicy = new AddressPolicy()
  const nat = config.nat
  const listen = [...config.listen, ...(nat.quic ? quicListenAddrs(config.listen) : [])]
  const services: Record<string, (components: any) => unknown> = {
    identify: identify({ protocolPrefix: KIZUNA_PROTOCOL_PREFIX }),
    // liveness rounds and Kademlia's contact checks both ping, so one stream per direction is too few
    ping: ping({ protocolPrefix: KIZUNA_PROTOCOL_PREFIX, timeout: config.pingTimeout * 1000, maxOutboundStreams: 4, maxInboundStreams: 8 }),
    dht: kadDHT({
      protocol: KIZUNA_DHT_PROTOCOL,
      // set explicitly (never libp2p's automatic switch, which needs a public address and so
      // never serves a LAN): the NAT service moves it to client mode when we are behind NAT
      clientMode: nat.dhtMode === 'client',
      // not kad-dht's public/private mappers: Kizuna swarms live on LANs and 127.0.0.1 too, so
      // an address is handed on by where the asker and the peer are seen (filterDhtAnswers below)
      peerInfoMapper: passthroughMapper,
      initialQuerySelfInterval: 1000,
      allowQueryWithZeroPeers: false
    }),
    natComponents: natComponents(),
    // topics (src/messaging/topic-service.ts): every message signed by its author, oversized
    // ones not even decoded, peer scoring on (its default); the protocol id stays /meshsub/1.x:
    // @libp2p/gossipsub 17 ignores a `protocols` option and gates its 1.1/1.2 features on those ids
    pubsub: gossipsub({
      globalSignaturePolicy: 'StrictSign',
      maxInboundDataLength: MAX_TOPIC_MESSAGE_BYTES,
      allowPublishToZeroTopicPeers: true,
      emitSelf: false,
      doPX: false,
      // many nodes on one loopback address are a test swarm, not a Sybil crowd behind one IP
      scoreParams: { IPColocationFactorWhitelist: new Set(['127.0.0.1', '::1']) }
    })
  }
  if (nat.relay.enabled) {
    const carriesBulk = nat.relay.bulkBytes > 0
    services.relay = circuitRelayServer({
      reservations: {
        maxReservations: nat.relay.maxReservations,
        reservationTtl: nat.relay.reservationTtl * 1000,
        applyDefaultLimit: true,
        defaultDurationLimit: nat.relay.durationLimit * 1000,
        defaultDataLimit: BigInt(Math.round(carriesBulk ? nat.relay.bulkBytes : nat.relay.dataLimit))
      }
    })
  }
  if (nat.holePunching) services.dcutr = (await import('@libp2p/dcutr')).dcutr()
  if (nat.autonat) services.autonat = (await import('@libp2p/autonat-v2')).autoNATv2({ protocolPrefix: KIZUNA_PROTOCOL_PREFIX })
  // a node listening on loopback only has nothing to map, and must not search the LAN for a router
  if (nat.upnp && config.listen.some(addr => !isLoopbackListen(addr))) {
    services.upnp = (await import('@libp2p/upnp-nat')).uPnPNAT({ portMappingDescription: 'kizuna' })
  }
  const quic = nat.quic ? (await import('@chainsafe/libp2p-quic')).quic : undefined

  const upgrades = new InboundUpgradeSlots(config.limits.inboundConnectionsPerIpPerSecond)
  const libp2p = await createLibp2p({
    privateKey,
    datastore,
    metrics,
    addresses: { listen, announceFilter: addressPolicy.announceFilter },
    connectionGater: {
      filterMultiaddrForPeer: addressPolicy.filterMultiaddrForPeer,
      denyInboundConnection: upgrades.denyInboundConnection,
      denyInboundUpgradedConnection: upgrades.denyInboundUpgradedConnection
    },
    // circuit relay dials relayed addresses and listens on relays when the NAT service asks
    transports: [tcp(), ...(quic != null ? [quic()] : []), circuitRelayTransport({ reservationCompletionTimeout: 10_000 })],
    connectionEncrypters: connectionEncrypters(),
    streamMuxers: [yamux()],
    peerDiscovery,
    connectionManager: {
      maxConnections: config.limits.maxConnections,
      inboundConnectionThreshold: config.limits.inboundConnectionsPerIpPerSecond,
      maxIncomingPendingConnections: Math.max(MAX_PENDING_INBOUND_UPGRADES, upgrades.perIp),
      dialTimeout: config.dialTimeout * 1000
    },
    // Liveness rounds (src/peers/liveness.ts) ping every known peer and decide when one is gone.
    // libp2p's own monitor would abort a busy bulk-transfer connection whose heartbeat is late on
    // a loaded machine, and its pings only repeated ours: every ping is a new stream, which both
    // ends pay for, in every pair of a swarm (an idle 17-daemon swarm: 0.186 cores with it, 0.159
    // without, after 2 minutes of settling)
    connectionMonitor: { enabled: false },
    services: services as any
  }) as unknown as KizunaLibp2p
  addressPolicy.attach(libp2p)
  // kad-dht keeps its RPC in a field it does not export: the one place every inbound request passes
  addressPolicy.filterDhtAnswers((libp2p.services.dht as unknown as { rpc: DhtRpc }).rpc)
  POLICIES.set(libp2p, addressPolicy)
  PeerStoreCache.install(libp2p.peerStore)
  return libp2p
}
