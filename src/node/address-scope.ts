import { BlockList, isIP } from 'node:net'
import type { Multiaddr } from '@multiformats/multiaddr'

/**
 * Which addresses of a peer are worth keeping, announcing or handing on: pure rules, no I/O.
 *
 * Kizuna cannot tell "public" from "private" by address class alone (a LAN and, in the lab, the
 * "internet" both use private ranges), so the rules look at where a peer is actually seen: the
 * IP its connection comes from is reachable from us; its other private addresses are reachable
 * only if they are on one of our own links; loopback only from the same host.
 */

const IP4 = 4
const IP6 = 41

export type IpFamily = 'ipv4' | 'ipv6'

/** The IP (and family) a multiaddr starts with, undefined for a DNS or other non-IP address */
export function ipOf (ma: Multiaddr): { ip: string, family: IpFamily } | undefined {
  const first = ma.getComponents()[0]
  if (first?.code === IP4 && first.value != null) return { ip: first.value, family: 'ipv4' }
  if (first?.code === IP6 && first.value != null) return { ip: first.value, family: 'ipv6' }
  return undefined
}

/** IPs whose answer a range test remembers; beyond this it starts over (a swarm has few IPs) */
export const MAX_REMEMBERED_IPS = 1024

/**
 * Is an IP inside `blocks`? Answers are remembered per IP: BlockList.check builds a native
 * SocketAddress per call, and every address of every peer in every DHT answer is tested
 */
export function rangeTest (blocks: BlockList): (ip: string) => boolean {
  const answers = new Map<string, boolean>()
  return ip => {
    let inside = answers.get(ip)
    if (inside === undefined) {
      const family = familyOf(ip)
      inside = family != null && blocks.check(ip, family)
      if (answers.size >= MAX_REMEMBERED_IPS) answers.clear()
      answers.set(ip, inside)
    }
    return inside
  }
}

function list (ranges: Array<[string, number, IpFamily]>): (ip: string) => boolean {
  const blocks = new BlockList()
  for (const [network, prefix, family] of ranges) blocks.addSubnet(network, prefix, family)
  return rangeTest(blocks)
}

const LOOPBACK = list([['127.0.0.0', 8, 'ipv4'], ['::1', 128, 'ipv6']])
const LINK_LOCAL = list([['169.254.0.0', 16, 'ipv4'], ['fe80::', 10, 'ipv6']])
/** Ranges that are not routed on the internet: RFC 1918, carrier-grade NAT, IPv6 ULA (and link-local) */
const PRIVATE = list([['10.0.0.0', 8, 'ipv4'], ['172.16.0.0', 12, 'ipv4'], ['192.168.0.0', 16, 'ipv4'], ['100.64.0.0', 10, 'ipv4'], ['169.254.0.0', 16, 'ipv4'], ['fc00::', 7, 'ipv6'], ['fe80::', 10, 'ipv6']])

function familyOf (ip: string): IpFamily | undefined {
  const version = isIP(ip)
  return version === 4 ? 'ipv4' : version === 6 ? 'ipv6' : undefined
}

export function isLoopbackIp (ip: string): boolean {
  return LOOPBACK(ip)
}

export function isPrivateIp (ip: string): boolean {
  return PRIVATE(ip) || LOOPBACK(ip)
}

export function isLinkLocalIp (ip: string): boolean {
  return LINK_LOCAL(ip)
}

/** What this node knows about its own network position */
export interface LocalScope {
  /** Is `ip` inside the subnet of one of our own (non-loopback) interfaces? */
  onLink: (ip: string) => boolean
  /** Every address we listen on is loopback (a swarm on 127.0.0.1) */
  loopbackOnly: boolean
}

/**
 * Our own addresses to announce: loopback and link-local ones only while we have nothing else
 * (a remote peer dialling 127.0.0.1 reaches itself, not us).
 */
export function announceable (addrs: Multiaddr[]): Multiaddr[] {
  const local = (ma: Multiaddr): boolean => {
    const ip = ipOf(ma)?.ip
    return ip != null && (isLoopbackIp(ip) || isLinkLocalIp(ip))
  }
  const others = addrs.filter(ma => !local(ma))
  return others.length > 0 ? others : addrs
}

/**
 * Keep an address a peer claims (identify, DHT answer, mDNS) in our peer store? `seenAt` are
 * the IPs our open connections with that peer come from or go to (empty when we have none).
 */
export function keepLearned (address: Multiaddr, seenAt: string[], scope: LocalScope): boolean {
  const ip = ipOf(address)?.ip
  if (ip == null) return true
  if (isLoopbackIp(ip)) {
    // 127.0.0.1 is the peer's own host: ours only if we see the peer over loopback
    return seenAt.length > 0 ? seenAt.some(isLoopbackIp) : scope.loopbackOnly
  }
  // where we reach (or are reached from) the peer is reachable
  if (seenAt.includes(ip)) return true
  // told by a third party: its answer was already filtered for us
  if (seenAt.length === 0) return true
  if (!isPrivateIp(ip)) return true
  // another private address of a peer we see elsewhere: only if both are on our own link (a
  // multi-homed LAN neighbour); a NATed peer's LAN address is not ours to dial
  return scope.onLink(ip) && seenAt.some(seen => scope.onLink(seen))
}

/**
 * Hand an address on to the asker of a DHT query, seen at `askerIp`? Addresses on our own
 * private link go only to askers on that link; loopback only to askers on our host.
 */
export function shareWith (address: Multiaddr, askerIp: string | undefined, scope: LocalScope): boolean {
  const ip = ipOf(address)?.ip
  if (ip == null || askerIp == null) return true
  if (isLoopbackIp(askerIp)) return true
  if (isLoopbackIp(ip)) return false
  if (isPrivateIp(ip) && scope.onLink(ip)) return scope.onLink(askerIp)
  return true
}
