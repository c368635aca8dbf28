import type { Reachability } from './nat-config.js'

/**
 * AutoNAT v2 needs dial-backs from several network segments before it confirms an address; a
 * node that talks to public peers this long without a confirmed address is taken to be behind NAT
 */
export const REACHABILITY_GRACE_MS = 60_000

/**
 * An AutoNAT confirmation counts only if a peer at a public address dialled us directly within
 * this long. js-libp2p's AutoNAT v2 client takes a server's "dialled you: OK" without checking
 * that the dial-back (with its nonce) arrived, so one lying peer confirms a mapped address; an
 * honest server's dial-back is itself such an inbound connection, a liar's word is not.
 */
export const INBOUND_EVIDENCE_MS = 30 * 60_000

/** Whether a public peer dialled us recently enough for AutoNAT's confirmations to count */
export function hasInboundEvidence (inboundPublicAgoMs: number | undefined): boolean {
  return inboundPublicAgoMs !== undefined && inboundPublicAgoMs <= INBOUND_EVIDENCE_MS
}

export interface ReachabilityInput {
  /** nat.reachability from the config: 'auto' detects */
  configured: 'auto' | 'public' | 'private'
  /** Our non-relayed public addresses that AutoNAT (or a UPnP mapping it checked) confirmed */
  confirmedPublicAddrs: number
  /** Connected peers we reach on a public (not private, not relayed) address */
  publicPeers: number
  /** How long we have had public peers without a confirmed address, in ms */
  publicPeersForMs: number
  /** Since a peer at a public address last opened a direct connection to us, in ms (undefined: never) */
  inboundPublicAgoMs: number | undefined
  graceMs?: number
}

/** Whether others can dial us: a pure decision, documented in docs/nat.md */
export function decideReachability (input: ReachabilityInput): Reachability {
  if (input.configured !== 'auto') return input.configured
  if (input.confirmedPublicAddrs > 0 && hasInboundEvidence(input.inboundPublicAgoMs)) return 'public'
  if (input.publicPeers > 0 && input.publicPeersForMs >= (input.graceMs ?? REACHABILITY_GRACE_MS)) return 'private'
  return 'unknown'
}

/**
 * DHT server or client. A node answers DHT queries when others can dial it, or when it lives in a
 * LAN-only swarm (no public peer at all: every peer can dial every other, as today). Behind NAT,
 * and while a node that talks to public peers has not yet been confirmed reachable, it only asks.
 */
export function decideDhtMode (configured: 'auto' | 'server' | 'client', reachability: Reachability, publicPeers: number): 'server' | 'client' {
  if (configured !== 'auto') return configured
  if (reachability === 'public') return 'server'
  if (reachability === 'private') return 'client'
  return publicPeers > 0 ? 'client' : 'server'
}

/** Relay service for others: only while we are publicly reachable (a NATed relay helps nobody) */
export function decideRelayServer (enabled: boolean, reachability: Reachability): boolean {
  return enabled && reachability === 'public'
}

/** Reservations on relays: only when we are known to be unreachable */
export function decideReservations (wanted: number, reachability: Reachability): number {
  return reachability === 'private' ? wanted : 0
}
