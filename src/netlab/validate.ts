import { LabTopologyError } from './errors.js'
import { INTERNET, type LabTopology } from './topology.js'
import { isHostIn, isRfc1918, overlaps, parseIpv4, parseSubnet, type Subnet } from './ipv4.js'

/** Host, router and LAN names: short, because a host's name also names its veth end (≤ 15 chars) */
export const LAB_NAME_PATTERN = /^[a-z][a-z0-9]{0,11}$/
/** Rates above this are refused: tbf on veths here tops out far below it anyway */
export const MAX_RATE_MBIT = 10_000
export const MAX_LAB_HOSTS = 64

export interface ValidatedSegment { name: string, subnet: Subnet, router?: string }

/**
 * Checks a topology completely before anything is made, so a typo never leaves half a lab.
 * Returns the segments by name (the internet and every LAN).
 */
export function validateTopology (topology: LabTopology): Map<string, ValidatedSegment> {
  const fail = (code: string, where: string, message: string): never => { throw new LabTopologyError(code, where, message) }
  if (typeof topology !== 'object' || topology == null || !Array.isArray(topology.hosts)) {
    fail('ERR_LAB_BAD_TOPOLOGY', '(root)', 'must be an object with a hosts array')
  }
  const routers = topology.routers ?? []
  const lans = topology.lans ?? []
  if (topology.hosts.length === 0) fail('ERR_LAB_BAD_TOPOLOGY', 'hosts', 'a lab needs at least one host')
  if (topology.hosts.length > MAX_LAB_HOSTS) fail('ERR_LAB_BAD_TOPOLOGY', 'hosts', `at most ${MAX_LAB_HOSTS} hosts, got ${topology.hosts.length}`)

  const names = new Set<string>([INTERNET])
  const claim = (name: unknown, where: string): void => {
    if (typeof name !== 'string' || !LAB_NAME_PATTERN.test(name)) fail('ERR_LAB_BAD_NAME', where, `name ${JSON.stringify(name)} must match ${String(LAB_NAME_PATTERN)}`)
    if (names.has(name as string)) fail('ERR_LAB_DUPLICATE_NAME', where, `name "${String(name)}" is used twice (or is reserved)`)
    names.add(name as string)
  }
  const subnetOf = (text: unknown, where: string): Subnet => {
    const subnet = typeof text === 'string' ? parseSubnet(text) : undefined
    if (subnet === undefined) return fail('ERR_LAB_BAD_SUBNET', where, `${JSON.stringify(text)} is not an aligned IPv4 subnet a.b.c.d/8..30`)
    if (!isRfc1918(subnet)) fail('ERR_LAB_PUBLIC_ADDRESS', where, `${String(text)} is not a private (RFC 1918) range; a lab uses addresses that exist only inside it`)
    return subnet
  }

  const segments = new Map<string, ValidatedSegment>()
  segments.set(INTERNET, { name: INTERNET, subnet: subnetOf(topology.internet?.subnet, 'internet.subnet') })
  routers.forEach((router, i) => {
    claim(router.name, `routers[${i}].name`)
    if (router.nat !== 'cone' && router.nat !== 'symmetric') fail('ERR_LAB_BAD_NAT', `routers[${i}].nat`, `must be "cone" or "symmetric", got ${JSON.stringify(router.nat)}`)
  })
  const routerNames = new Set(routers.map(r => r.name))
  const routerUsed = new Set<string>()
  lans.forEach((lan, i) => {
    claim(lan.name, `lans[${i}].name`)
    const subnet = subnetOf(lan.subnet, `lans[${i}].subnet`)
    if (!routerNames.has(lan.router)) fail('ERR_LAB_UNKNOWN_ROUTER', `lans[${i}].router`, `no router named "${String(lan.router)}"`)
    if (routerUsed.has(lan.router)) fail('ERR_LAB_BAD_TOPOLOGY', `lans[${i}].router`, `router "${lan.router}" already serves another LAN`)
    routerUsed.add(lan.router)
    for (const other of segments.values()) {
      if (overlaps(other.subnet, subnet)) fail('ERR_LAB_OVERLAPPING_SUBNET', `lans[${i}].subnet`, `${lan.subnet} overlaps segment "${other.name}"`)
    }
    segments.set(lan.name, { name: lan.name, subnet, router: lan.router })
  })
  routers.forEach((router, i) => {
    if (!routerUsed.has(router.name)) fail('ERR_LAB_BAD_TOPOLOGY', `routers[${i}]`, `router "${router.name}" serves no LAN`)
  })

  const addresses = new Set<number>()
  const takeAddress = (text: unknown, segment: ValidatedSegment, where: string): void => {
    const address = typeof text === 'string' ? parseIpv4(text) : undefined
    if (address === undefined) return fail('ERR_LAB_BAD_ADDRESS', where, `${JSON.stringify(text)} is not an IPv4 address`)
    if (!isHostIn(segment.subnet, address)) fail('ERR_LAB_BAD_ADDRESS', where, `${String(text)} is not a host address of segment "${segment.name}"`)
    if (addresses.has(address)) fail('ERR_LAB_DUPLICATE_ADDRESS', where, `address ${String(text)} is used twice`)
    addresses.add(address)
  }
  // every LAN's router owns its first address
  for (const segment of segments.values()) {
    if (segment.router != null) addresses.add(segment.subnet.base + 1)
  }
  routers.forEach((router, i) => { takeAddress(router.address, segments.get(INTERNET)!, `routers[${i}].address`) })

  const rate = (value: unknown, where: string): void => {
    if (value === undefined) return
    if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0 || value > MAX_RATE_MBIT) {
      fail('ERR_LAB_BAD_RATE', where, `must be a number of Mbit/s in (0, ${MAX_RATE_MBIT}], got ${JSON.stringify(value)}`)
    }
  }
  topology.hosts.forEach((host, i) => {
    claim(host.name, `hosts[${i}].name`)
    const segment = segments.get(host.segment)
    if (segment === undefined) return fail('ERR_LAB_UNKNOWN_SEGMENT', `hosts[${i}].segment`, `no segment named "${String(host.segment)}" (use "${INTERNET}" or a LAN name)`)
    takeAddress(host.address, segment, `hosts[${i}].address`)
    rate(host.uplinkMbit, `hosts[${i}].uplinkMbit`)
    rate(host.downlinkMbit, `hosts[${i}].downlinkMbit`)
  })
  return segments
}
