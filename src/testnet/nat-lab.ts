import type { LabTopology } from '../netlab/index.js'

/**
 * The NAT lab shared by the lab-nat test and `npm run bench -- nat`: one "internet" segment with
 * a relay, a relay whose operator may opt in to bulk, and two public hosts; four NATed hosts,
 * each behind its own router: a, b behind cone NATs (MASQUERADE), c, d behind symmetric ones
 * (`--random-fully`). Every address is private and exists only inside the lab's namespaces.
 */
export interface NatLab {
  topology: LabTopology
  /** Address of each host by name (relay, relayb, pub, pub2, a, b, c, d) */
  address: Record<NatLabHost, string>
  /**
   * Where each host's traffic reaches a host on the internet segment from: its router's WAN
   * address for a NATed host, its own for a public one (what the relay's counters key on)
   */
  seenAs: Record<NatLabHost, string>
  /** NAT kind of each host: public hosts sit on the internet segment */
  kind: Record<NatLabHost, 'public' | 'cone' | 'symmetric'>
}

export type NatLabHost = 'relay' | 'relayb' | 'pub' | 'pub2' | 'a' | 'b' | 'c' | 'd'

const NATED = [
  { host: 'a', router: 'cone1', lan: 'lana', nat: 'cone' },
  { host: 'b', router: 'cone2', lan: 'lanb', nat: 'cone' },
  { host: 'c', router: 'sym1', lan: 'lanc', nat: 'symmetric' },
  { host: 'd', router: 'sym2', lan: 'land', nat: 'symmetric' }
] as const

const PUBLIC = [['relay', 10], ['pub', 11], ['pub2', 12], ['relayb', 13]] as const

/**
 * The lab with its internet on 10.`octet`.0.0/24 and its LANs on 192.168.`lanBase + 1..4`.0/24.
 * Two labs built at once (a test and a bench) live in separate namespaces, so equal ranges would
 * not collide; distinct ones keep logs and counters unambiguous.
 */
export function natLab (octet: number, lanBase: number): NatLab {
  const internet = (last: number): string => `10.${octet}.0.${last}`
  const address = {} as Record<NatLabHost, string>
  const seenAs = {} as Record<NatLabHost, string>
  const kind = {} as Record<NatLabHost, 'public' | 'cone' | 'symmetric'>
  for (const [host, last] of PUBLIC) {
    address[host] = seenAs[host] = internet(last)
    kind[host] = 'public'
  }
  NATED.forEach(({ host, nat }, i) => {
    address[host] = `192.168.${lanBase + i + 1}.10`
    seenAs[host] = internet(i + 1)
    kind[host] = nat
  })
  const topology: LabTopology = {
    internet: { subnet: `10.${octet}.0.0/24` },
    routers: NATED.map(({ router, nat }, i) => ({ name: router, address: internet(i + 1), nat })),
    lans: NATED.map(({ router, lan }, i) => ({ name: lan, subnet: `192.168.${lanBase + i + 1}.0/24`, router })),
    hosts: [
      ...PUBLIC.map(([name]) => ({ name, segment: 'internet', address: address[name] })),
      ...NATED.map(({ host, lan }) => ({ name: host, segment: lan, address: address[host] }))
    ]
  }
  return { topology, address, seenAs, kind }
}
