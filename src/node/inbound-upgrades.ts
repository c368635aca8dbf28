import type { MultiaddrConnection, PeerId } from '@libp2p/interface'
import { RateLimiter } from '@libp2p/utils'
import { ipOf } from './address-scope.js'
import { ipLimitKey } from './ip-limit-key.js'

/**
 * Inbound connections still in their handshake (TCP accepted, Noise and the muxer not done), in
 * all. libp2p's default is 10, checked before its per-IP rate limit; more slots, each IP capped
 * below, mean it takes many hosts, not one, to fill them.
 */
export const MAX_PENDING_INBOUND_UPGRADES = 64
/** An IP may have this many seconds' worth of its allowed new connections in their handshake at once */
export const PENDING_UPGRADE_SECONDS_PER_IP = 2
/**
 * A slot whose connection neither finished its handshake nor closed is freed after this anyway
 * (libp2p drops an inbound upgrade after 10 s; this is the backstop, not the rule)
 */
export const PENDING_UPGRADE_HOLD_MAX_MS = 30_000
/** The per-IP rate counts connections in windows this long (libp2p's own limiter uses 1 s too) */
export const INBOUND_RATE_WINDOW_MS = 1_000

/**
 * A cap, per remote IP, on inbound connections in their handshake, as a connection gater.
 * libp2p's per-IP limit is a rate (connections per second), and its cap on handshakes in
 * progress is global: one host opening 5 connections a second that never start a handshake held
 * every one of the 10 slots until the 10-s upgrade timeout, and every other host's new
 * connection was refused (test/netlab/per-ip-flood.test.ts). With this, that host holds its own
 * few slots and no more.
 *
 * Both the slots and a new-connections rate count per ipLimitKey: an IPv6 /64 is one "IP".
 * libp2p's own rate limit counts per address, which a host owning a /64 escapes by using a new
 * source address for every connection (test/netlab/ipv6-per-64.test.ts).
 */
export class InboundUpgradeSlots {
  readonly perIp: number
  private readonly pending = new Map<string, number>()
  private readonly held = new Map<MultiaddrConnection, { ip: string, timer: NodeJS.Timeout }>()
  /** new connections per key and window: libp2p's own limiter, keyed by ipLimitKey instead of the address */
  private readonly rate: RateLimiter

  /** `connectionsPerIpPerSecond`: the node's per-IP inbound rate limit */
  constructor (connectionsPerIpPerSecond: number) {
    this.perIp = Math.max(1, Math.ceil(connectionsPerIpPerSecond * PENDING_UPGRADE_SECONDS_PER_IP))
    this.rate = new RateLimiter({
      points: Math.max(1, Math.floor(connectionsPerIpPerSecond * INBOUND_RATE_WINDOW_MS / 1000)),
      duration: INBOUND_RATE_WINDOW_MS / 1000
    })
  }

  /** Handshakes in progress from `ip` (counted with every address of its /64 for IPv6) */
  pendingFrom (ip: string): number {
    return this.pending.get(ipLimitKey(ip)) ?? 0
  }

  /** Charges one new connection to `key`; false when its window is full */
  private takeRate (key: string): boolean {
    try {
      this.rate.consume(key)
      return true
    } catch {
      return false
    }
  }

  /** connectionGater.denyInboundConnection: true refuses the connection before its handshake */
  readonly denyInboundConnection = (maConn: MultiaddrConnection): boolean => {
    const address = ipOf(maConn.remoteAddr)?.ip
    if (address == null || this.held.has(maConn)) return false
    const ip = ipLimitKey(address)
    const count = this.pending.get(ip) ?? 0
    if (count >= this.perIp) return true
    if (!this.takeRate(ip)) return true
    this.pending.set(ip, count + 1)
    const timer = setTimeout(() => { this.release(maConn) }, PENDING_UPGRADE_HOLD_MAX_MS)
    timer.unref()
    this.held.set(maConn, { ip, timer })
    maConn.addEventListener('close', () => { this.release(maConn) }, { once: true })
    return false
  }

  /** connectionGater.denyInboundUpgradedConnection: the handshake is over, its slot is free */
  readonly denyInboundUpgradedConnection = (_peerId: PeerId, maConn: MultiaddrConnection): boolean => {
    this.release(maConn)
    return false
  }

  private release (maConn: MultiaddrConnection): void {
    const entry = this.held.get(maConn)
    if (entry === undefined) return
    this.held.delete(maConn)
    clearTimeout(entry.timer)
    const left = (this.pending.get(entry.ip) ?? 0) - 1
    if (left > 0) this.pending.set(entry.ip, left)
    else this.pending.delete(entry.ip)
  }
}
