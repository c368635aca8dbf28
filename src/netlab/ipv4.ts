/** IPv4 arithmetic the topology checks need; addresses as 32-bit unsigned numbers */

export function parseIpv4 (text: string): number | undefined {
  const parts = text.split('.')
  if (parts.length !== 4) return undefined
  let value = 0
  for (const part of parts) {
    if (!/^\d{1,3}$/.test(part) || Number(part) > 255) return undefined
    value = value * 256 + Number(part)
  }
  return value
}

export function formatIpv4 (value: number): string {
  return [24, 16, 8, 0].map(shift => Math.floor(value / 2 ** shift) % 256).join('.')
}

export interface Subnet { base: number, prefix: number }

export function parseSubnet (text: string): Subnet | undefined {
  const match = /^(.+)\/(\d{1,2})$/.exec(text)
  if (match == null) return undefined
  const base = parseIpv4(match[1])
  const prefix = Number(match[2])
  if (base === undefined || prefix < 8 || prefix > 30) return undefined
  if (base % 2 ** (32 - prefix) !== 0) return undefined
  return { base, prefix }
}

export function subnetSize (subnet: Subnet): number {
  return 2 ** (32 - subnet.prefix)
}

/** Inside the subnet and neither its network nor its broadcast address */
export function isHostIn (subnet: Subnet, address: number): boolean {
  return address > subnet.base && address < subnet.base + subnetSize(subnet) - 1
}

export function overlaps (a: Subnet, b: Subnet): boolean {
  return a.base < b.base + subnetSize(b) && b.base < a.base + subnetSize(a)
}

const PRIVATE_RANGES = ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16'].map(s => parseSubnet(s)!)

/** RFC 1918: the only ranges a lab may use, so nothing in it can stand for a real host */
export function isRfc1918 (subnet: Subnet): boolean {
  return PRIVATE_RANGES.some(range => subnet.prefix >= range.prefix && overlaps(range, subnet))
}
