import type { Libp2p } from 'libp2p'
import type { Identify } from '@libp2p/identify'
import type { Ping } from '@libp2p/ping'
import type { KadDHT } from '@libp2p/kad-dht'
import type { CircuitRelayService } from '@libp2p/circuit-relay-v2'
import type { AddressManager, TransportManager } from '@libp2p/interface-internal'

/** Our own DHT protocol so a Kizuna swarm never mixes with (or leaks into) the public IPFS DHT */
export const KIZUNA_DHT_PROTOCOL = '/kizuna/kad/1.0.0'
/** libp2p services build their protocol ids as `/${prefix}/name/version` */
export const KIZUNA_PROTOCOL_PREFIX = 'kizuna'

/** The libp2p services every Kizuna host runs (assembled in src/node/libp2p.ts) */
export interface KizunaServices extends Record<string, unknown> {
  identify: Identify
  ping: Ping
  dht: KadDHT
  /** libp2p internals the NAT service steers: listening on relays, our confirmed addresses */
  natComponents: NatComponents
  /** present when nat.relay.enabled; the NAT service runs it only while we are publicly reachable */
  relay?: CircuitRelayService
}

export interface NatComponents {
  transportManager: TransportManager
  addressManager: AddressManager
}

/** The libp2p host the services below the node are given (or a narrow Pick of it) */
export type KizunaLibp2p = Libp2p<KizunaServices>

/** Kademlia routing-table size; kad-dht does not type its table publicly */
export function routingTableSize (libp2p: Pick<KizunaLibp2p, 'services'>): number {
  const dht = libp2p.services.dht as unknown as { routingTable?: { size: number } }
  return dht.routingTable?.size ?? 0
}
