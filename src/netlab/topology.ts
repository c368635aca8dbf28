/**
 * A lab topology as plain data. One "internet" segment (a bridge) joins public hosts and the
 * WAN side of every router; each LAN is a bridge inside its router's namespace, behind NAT.
 * Every address is private and exists only inside the lab's namespaces.
 */
export type NatKind = 'cone' | 'symmetric'

/** The segment name of the internet bridge; any other segment name is a LAN */
export const INTERNET = 'internet'

export interface LabHostSpec {
  /** [a-z][a-z0-9]{0,11}: it names the host's veth end on its switch or router */
  name: string
  /** `internet` or a LAN's name */
  segment: string
  /** IPv4 address inside its segment's subnet */
  address: string
  /** Host → network rate (tbf on the host's own veth end); unlimited when absent */
  uplinkMbit?: number
  /** Network → host rate (tbf on the other end of the veth); unlimited when absent */
  downlinkMbit?: number
}

export interface LabRouterSpec {
  name: string
  /** The router's WAN address on the internet segment */
  address: string
  /** cone: plain MASQUERADE (keeps source ports where it can); symmetric: --random-fully */
  nat: NatKind
}

export interface LabLanSpec {
  name: string
  /** e.g. 192.168.1.0/24; the router takes the first address (.1) */
  subnet: string
  /** The router (by name) this LAN sits behind */
  router: string
}

export interface LabTopology {
  /** e.g. 10.99.0.0/16 */
  internet: { subnet: string }
  routers?: LabRouterSpec[]
  lans?: LabLanSpec[]
  hosts: LabHostSpec[]
}
