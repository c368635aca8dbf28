import { BlockList } from 'node:net'
import { describe, expect, it, vi } from 'vitest'
import { multiaddr } from '@multiformats/multiaddr'
import { announceable, isLinkLocalIp, isLoopbackIp, isPrivateIp, keepLearned, MAX_REMEMBERED_IPS, rangeTest, shareWith, type LocalScope } from '../../src/node/address-scope.js'

// we sit on 192.168.1.0/24 (a home LAN) unless a case says otherwise
const home: LocalScope = { onLink: ip => ip.startsWith('192.168.1.'), loopbackOnly: false }
const loopbackSwarm: LocalScope = { onLink: () => false, loopbackOnly: true }
const ma = (ip: string): ReturnType<typeof multiaddr> => multiaddr(`/ip4/${ip}/tcp/4010`)

describe('address scope rules', () => {
  it('announces loopback and link-local addresses only when there is nothing else', () => {
    expect(announceable([ma('127.0.0.1'), ma('10.0.0.5'), ma('169.254.3.4')]).map(String)).toEqual(['/ip4/10.0.0.5/tcp/4010'])
    expect(announceable([ma('127.0.0.1')]).map(String)).toEqual(['/ip4/127.0.0.1/tcp/4010'])
    expect(announceable([multiaddr('/ip6/::1/tcp/1'), multiaddr('/ip6/fd00::5/tcp/1')]).map(String)).toEqual(['/ip6/fd00::5/tcp/1'])
  })

  it.each([
    // [claimed address, IPs we see the peer at, scope, keep?]
    ['127.0.0.1', ['10.99.0.7'], home, false, 'a remote peer\'s loopback'],
    ['127.0.0.1', ['127.0.0.1'], home, true, 'a peer on our own host'],
    ['127.0.0.1', [], loopbackSwarm, true, 'a loopback swarm learning from a DHT answer'],
    ['127.0.0.1', [], home, false, 'loopback told by a third party, we are not on loopback'],
    ['10.99.0.7', ['10.99.0.7'], home, true, 'where we see it'],
    ['192.168.5.10', ['10.99.0.1'], home, false, 'a NATed peer\'s LAN address (seen at its router)'],
    ['192.168.1.20', ['10.99.0.1'], home, false, 'a NATed peer\'s LAN address that looks like our own LAN'],
    ['192.168.1.21', ['192.168.1.20'], home, true, 'a second address of a neighbour on our link'],
    ['172.17.0.1', ['192.168.1.20'], home, false, 'a neighbour\'s docker bridge'],
    ['8.8.4.4', ['10.99.0.1'], home, true, 'a public address the peer claims (e.g. a port mapping)'],
    ['192.168.9.9', [], home, true, 'a third party\'s answer (it filtered for us)']
  ] as Array<[string, string[], LocalScope, boolean, string]>)('keeps %s seen at %j (%#: %s)', (address, seen, scope, keep) => {
    expect(keepLearned(ma(address), seen, scope)).toBe(keep)
  })

  it.each([
    // [address, asker IP, share?]
    ['192.168.1.20', '192.168.1.30', true, 'a LAN neighbour to a LAN neighbour'],
    ['192.168.1.20', '10.99.0.7', false, 'a LAN neighbour to a peer beyond our router'],
    ['10.99.0.7', '192.168.1.30', true, 'a peer beyond our router to a LAN neighbour'],
    ['10.99.0.7', '10.99.0.8', true, 'a peer beyond our router to another'],
    ['127.0.0.1', '10.99.0.8', false, 'loopback to a remote asker'],
    ['127.0.0.1', '127.0.0.1', true, 'loopback to an asker on our host'],
    ['192.168.1.20', '127.0.0.1', true, 'anything to an asker on our host'],
    ['192.168.1.20', undefined, true, 'no asker (our own use)']
  ] as Array<[string, string | undefined, boolean, string]>)('shares %s with an asker at %s: %s (%s)', (address, asker, share) => {
    expect(shareWith(ma(address), asker, home)).toBe(share)
  })

  it.each([
    // [ip, loopback, private, link-local]
    ['127.0.0.1', true, true, false], ['127.9.8.7', true, true, false], ['::1', true, true, false],
    ['10.1.2.3', false, true, false], ['172.31.0.1', false, true, false], ['172.32.0.1', false, false, false],
    ['192.168.1.1', false, true, false], ['100.64.0.1', false, true, false], ['169.254.1.1', false, true, true],
    ['fd00::5', false, true, false], ['fe80::1', false, true, true], ['8.8.8.8', false, false, false],
    ['2001:db8::1', false, false, false], ['not-an-ip', false, false, false]
  ] as Array<[string, boolean, boolean, boolean]>)('classifies %s (twice: the answer is remembered)', (ip, loopback, priv, linkLocal) => {
    for (let i = 0; i < 2; i++) {
      expect(isLoopbackIp(ip)).toBe(loopback)
      expect(isPrivateIp(ip)).toBe(priv)
      expect(isLinkLocalIp(ip)).toBe(linkLocal)
    }
  })

  it('asks the block list once per IP, and starts over past its bound', () => {
    const blocks = new BlockList()
    blocks.addSubnet('10.0.0.0', 8, 'ipv4')
    const check = vi.spyOn(blocks, 'check')
    const inside = rangeTest(blocks)
    expect([inside('10.0.0.1'), inside('10.0.0.1'), inside('11.0.0.1'), inside('11.0.0.1')]).toEqual([true, true, false, false])
    expect(check).toHaveBeenCalledTimes(2)
    for (let i = 0; i < MAX_REMEMBERED_IPS; i++) inside(`10.0.${i >> 8}.${i & 255}`)
    check.mockClear()
    inside('10.0.0.1')
    inside('10.0.0.1')
    expect(check).toHaveBeenCalledTimes(1)
  })
})
