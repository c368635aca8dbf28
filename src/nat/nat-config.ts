/** The `nat` section of a node's config (docs/nat.md); defaults live in node/config.ts */
export type Reachability = 'public' | 'private' | 'unknown'

export interface NatConfig {
  /** Also listen on QUIC (UDP, same host and port as each TCP listen address) */
  quic: boolean
  /** Ask the home router for a port mapping (UPnP IGD / NAT-PMP); only with a non-loopback listen address */
  upnp: boolean
  /** Ask peers to dial us back (AutoNAT v2) to learn whether we are publicly reachable */
  autonat: boolean
  /** Upgrade relayed connections to direct ones (DCUtR) */
  holePunching: boolean
  /** 'auto' decides from reachability (docs/nat.md); 'public'/'private' skip detection */
  reachability: 'auto' | 'public' | 'private'
  /** 'auto': DHT server when publicly reachable or in a LAN-only swarm, client when behind NAT */
  dhtMode: 'auto' | 'server' | 'client'
  /** Relays a node that is not publicly reachable keeps reservations on (0 = none) */
  relayReservations: number
  relay: {
    /** Serve as a circuit relay while publicly reachable (`--no-relay` turns it off) */
    enabled: boolean
    /** Reservations held for other peers at once */
    maxReservations: number
    /** Seconds a reservation lasts before the peer must renew it */
    reservationTtl: number
    /** Seconds one relayed connection may stay open */
    durationLimit: number
    /** Bytes one relayed connection may carry (both directions together) */
    dataLimit: number
    /**
     * Operator opt-in: relayed connections may carry content blocks up to this many bytes each
     * (it replaces dataLimit; 0 = never carry bulk, the default)
     */
    bulkBytes: number
  }
}
