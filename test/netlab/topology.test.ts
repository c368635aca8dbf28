import { describe, expect, it } from 'vitest'
import { validateTopology, type LabTopology } from '../../src/netlab/index.js'

const good: LabTopology = {
  internet: { subnet: '10.99.0.0/24' },
  routers: [{ name: 'home1', address: '10.99.0.1', nat: 'cone' }],
  lans: [{ name: 'lan1', subnet: '192.168.1.0/24', router: 'home1' }],
  hosts: [
    { name: 'pub1', segment: 'internet', address: '10.99.0.10', uplinkMbit: 40, downlinkMbit: 200 },
    { name: 'a1', segment: 'lan1', address: '192.168.1.10' }
  ]
}

function variant (change: (t: LabTopology) => void): LabTopology {
  const copy = structuredClone(good)
  change(copy)
  return copy
}

describe('lab topology validation', () => {
  it('accepts a good topology and names its segments', () => {
    expect([...validateTopology(good).keys()]).toEqual(['internet', 'lan1'])
  })

  it.each([
    ['unknown segment', 'ERR_LAB_UNKNOWN_SEGMENT', (t: LabTopology) => { t.hosts[1].segment = 'lan9' }],
    ['unknown router', 'ERR_LAB_UNKNOWN_ROUTER', (t: LabTopology) => { t.lans![0].router = 'nowhere' }],
    ['duplicate address', 'ERR_LAB_DUPLICATE_ADDRESS', (t: LabTopology) => { t.hosts.push({ name: 'pub2', segment: 'internet', address: '10.99.0.10' }) }],
    ['address of the router', 'ERR_LAB_DUPLICATE_ADDRESS', (t: LabTopology) => { t.hosts[1].address = '192.168.1.1' }],
    ['router WAN address reused', 'ERR_LAB_DUPLICATE_ADDRESS', (t: LabTopology) => { t.hosts[0].address = '10.99.0.1' }],
    ['duplicate host name', 'ERR_LAB_DUPLICATE_NAME', (t: LabTopology) => { t.hosts[1].name = 'pub1' }],
    ['host named like a router', 'ERR_LAB_DUPLICATE_NAME', (t: LabTopology) => { t.hosts[1].name = 'home1' }],
    ['reserved name', 'ERR_LAB_DUPLICATE_NAME', (t: LabTopology) => { t.hosts[1].name = 'internet' }],
    ['name too long for a veth', 'ERR_LAB_BAD_NAME', (t: LabTopology) => { t.hosts[1].name = 'averylonghostname' }],
    ['name with a dash', 'ERR_LAB_BAD_NAME', (t: LabTopology) => { t.hosts[1].name = 'a-1' }],
    ['rate 0', 'ERR_LAB_BAD_RATE', (t: LabTopology) => { t.hosts[0].uplinkMbit = 0 }],
    ['negative rate', 'ERR_LAB_BAD_RATE', (t: LabTopology) => { t.hosts[0].downlinkMbit = -5 }],
    ['rate not a number', 'ERR_LAB_BAD_RATE', (t: LabTopology) => { (t.hosts[0] as any).uplinkMbit = '40' }],
    ['address outside its segment', 'ERR_LAB_BAD_ADDRESS', (t: LabTopology) => { t.hosts[1].address = '192.168.2.10' }],
    ['broadcast address', 'ERR_LAB_BAD_ADDRESS', (t: LabTopology) => { t.hosts[0].address = '10.99.0.255' }],
    ['not an address', 'ERR_LAB_BAD_ADDRESS', (t: LabTopology) => { t.hosts[0].address = '10.99.0' }],
    ['public range', 'ERR_LAB_PUBLIC_ADDRESS', (t: LabTopology) => { t.internet.subnet = '8.8.8.0/24' }],
    ['bad subnet', 'ERR_LAB_BAD_SUBNET', (t: LabTopology) => { t.lans![0].subnet = '192.168.1.5/24' }],
    ['overlapping LANs', 'ERR_LAB_OVERLAPPING_SUBNET', (t: LabTopology) => { t.lans![0].subnet = '10.99.0.0/25' }],
    ['unknown NAT kind', 'ERR_LAB_BAD_NAT', (t: LabTopology) => { (t.routers![0] as any).nat = 'full-cone' }],
    ['router without a LAN', 'ERR_LAB_BAD_TOPOLOGY', (t: LabTopology) => { t.routers!.push({ name: 'home2', address: '10.99.0.2', nat: 'symmetric' }) }],
    ['no hosts', 'ERR_LAB_BAD_TOPOLOGY', (t: LabTopology) => { t.hosts = [] }]
  ])('refuses %s with %s', (_name, code, change) => {
    let caught: unknown
    try {
      validateTopology(variant(change))
    } catch (err) {
      caught = err
    }
    expect((caught as { code?: string })?.code).toBe(code)
    expect((caught as Error).message).toMatch(/^lab topology /)
  })
})
