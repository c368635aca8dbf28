import { parseIP } from '@chainsafe/is-ip/parse'

/** Bits of an IPv6 address one subscriber holds: ISPs hand out a /64 (or more) per host or home */
export const IPV6_HOST_PREFIX_BITS = 64

/**
 * The key a per-IP limit counts under: the address itself for IPv4, its /64 for IPv6 (one host
 * can pick any of 2^64 source addresses, so per-address limits would not limit it at all), and the
 * embedded IPv4 address for an IPv4-mapped IPv6 one (`::ffff:10.0.0.1` is 10.0.0.1 on a
 * dual-stack socket). Anything else is returned as given.
 */
export function ipLimitKey (ip: string): string {
  const bytes = parseIP(ip.split('%')[0])
  if (bytes == null) return ip
  if (bytes.length === 4) return bytes.join('.')
  if (bytes.subarray(0, 10).every(b => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff) return bytes.subarray(12).join('.')
  const groups: string[] = []
  for (let i = 0; i < IPV6_HOST_PREFIX_BITS / 8; i += 2) groups.push(((bytes[i] << 8) | bytes[i + 1]).toString(16))
  return `${groups.join(':')}::/${IPV6_HOST_PREFIX_BITS}`
}
