import type { KizunaConfig } from './config.js'

/** Overrides for one run, on top of the repo's config.json (CLI flags map onto these) */
export interface ConfigOverrides {
  listen?: string[]
  bootstrap?: string[]
  api?: string
  mdns?: boolean
  peerTimeout?: number
  refreshInterval?: number
  pingTimeout?: number
  inboundConnectionsPerIpPerSecond?: number
  cacheBytes?: number
  replication?: boolean
  replicationInterval?: number
  cacheIdleTimeout?: number
  hotDemand?: number
  demandHalfLife?: number
  /** NAT traversal switches (--no-relay, --no-quic, --no-upnp, --reachability) */
  relay?: boolean
  quic?: boolean
  upnp?: boolean
  reachability?: 'auto' | 'public' | 'private'
}

export function applyOverrides (config: KizunaConfig, overrides: ConfigOverrides = {}): KizunaConfig {
  const next: KizunaConfig = structuredClone(config)
  if (overrides.listen != null && overrides.listen.length > 0) next.listen = overrides.listen
  if (overrides.bootstrap != null && overrides.bootstrap.length > 0) next.bootstrap = overrides.bootstrap
  if (overrides.api != null) next.api = overrides.api
  if (overrides.mdns != null) next.mdns = overrides.mdns
  if (overrides.peerTimeout != null) next.peerTimeout = overrides.peerTimeout
  if (overrides.refreshInterval != null) next.refreshInterval = overrides.refreshInterval
  if (overrides.pingTimeout != null) next.pingTimeout = overrides.pingTimeout
  if (overrides.cacheBytes != null) next.cacheBytes = overrides.cacheBytes
  if (overrides.replication != null) next.replication = overrides.replication
  if (overrides.replicationInterval != null) next.replicationInterval = overrides.replicationInterval
  if (overrides.cacheIdleTimeout != null) next.cacheIdleTimeout = overrides.cacheIdleTimeout
  if (overrides.hotDemand != null) next.hotDemand = overrides.hotDemand
  if (overrides.demandHalfLife != null) next.demandHalfLife = overrides.demandHalfLife
  if (overrides.relay != null) next.nat.relay.enabled = overrides.relay
  if (overrides.quic != null) next.nat.quic = overrides.quic
  if (overrides.upnp != null) next.nat.upnp = overrides.upnp
  if (overrides.reachability != null) next.nat.reachability = overrides.reachability
  if (overrides.inboundConnectionsPerIpPerSecond != null) {
    next.limits.inboundConnectionsPerIpPerSecond = overrides.inboundConnectionsPerIpPerSecond
  }
  return next
}

/**
 * Liveness timing derived from peerTimeout: at least three rounds fit in one timeout, so one
 * lost ping never evicts a live peer, and a hung peer is gone within about peerTimeout plus a
 * round plus a ping.
 */
export function livenessTiming (config: KizunaConfig): { refreshIntervalMs: number, pingTimeoutMs: number, peerTimeoutMs: number } {
  // whole milliseconds: AbortSignal.timeout throws on fractions
  const peerTimeoutMs = Math.round(config.peerTimeout * 1000)
  return {
    peerTimeoutMs,
    refreshIntervalMs: Math.max(1, Math.round(Math.min(config.refreshInterval * 1000, peerTimeoutMs / 3))),
    pingTimeoutMs: Math.max(1, Math.round(Math.min(config.pingTimeout * 1000, peerTimeoutMs / 3)))
  }
}
