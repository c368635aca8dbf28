import { isIPv4, isIPv6 } from 'node:net'

/** Bits of an IPv6 address one subscriber holds: ISPs hand out a /64 (or more) per host or home */
export const IPV6_HOST_PREFIX_BITS = 64

/**
 * The key a per-IP limit counts under: the address itself for IPv4, its /64 for IPv6 (one host
 * can pick any of 2^64 source addresses, so per-address limits would not limit it at all), and the
 * embedded IPv4 address for an IPv4-mapped IPv6 one (`::ffff:10.0.0.1` is 10.0.0.1 on a
 * dual-stack socket). Anything else is returned as given.
 */
export function ipLimitKey (ip: string): string {
  if (isIPv4(ip)) return ip
  const zoneless = ip.split('%')[0]
  if (!isIPv6(zoneless)) return ip
  const groups = expandIpv6(zoneless)
  if (groups.slice(0, 5).every(g => g === 0) && groups[5] === 0xffff) {
    return `${groups[6] >> 8}.${groups[6] & 0xff}.${groups[7] >> 8}.${groups[7] & 0xff}`
  }
  const head = groups.slice(0, IPV6_HOST_PREFIX_BITS / 16).map(g => g.toString(16)).join(':')
  return `${head}::/${IPV6_HOST_PREFIX_BITS}`
}

/** The eight 16-bit groups of a valid IPv6 address (handles `::` and a dotted IPv4 tail) */
function expandIpv6 (ip: string): number[] {
  let text = ip.toLowerCase()
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text)
  if (dotted != null) {
    const [a, b, c, d] = dotted.slice(1).map(Number)
    text = `${text.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`
  }
  const [left, right] = text.includes('::') ? text.split('::') : [text, undefined]
  const head = left === '' ? [] : left.split(':')
  const tail = right === undefined || right === '' ? [] : right.split(':')
  const zeros = right === undefined ? [] : new Array(8 - head.length - tail.length).fill('0')
  return [...head, ...zeros, ...tail].map(g => parseInt(g, 16))
}
