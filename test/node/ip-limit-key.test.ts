import { describe, expect, it } from 'vitest'
import { ipLimitKey } from '../../src/node/ip-limit-key.js'

describe('ipLimitKey: what a per-IP limit counts under', () => {
  it.each([
    ['10.66.0.10', '10.66.0.10'],
    ['127.0.0.1', '127.0.0.1'],
    // every address of one /64 is one key
    ['fd00:1:2:3::10', 'fd00:1:2:3::/64'],
    ['fd00:1:2:3:ffff:ffff:ffff:ffff', 'fd00:1:2:3::/64'],
    ['FD00:0001:0002:0003:0:0:0:1', 'fd00:1:2:3::/64'],
    ['2001:db8::1', '2001:db8:0:0::/64'],
    ['2001:db8:0:0:1::1', '2001:db8:0:0::/64'],
    // the next /64 is another key
    ['fd00:1:2:4::10', 'fd00:1:2:4::/64'],
    ['::1', '0:0:0:0::/64'],
    ['fe80::1%eth0', 'fe80:0:0:0::/64'],
    // an IPv4 client on a dual-stack socket is its IPv4 address
    ['::ffff:10.66.0.10', '10.66.0.10'],
    ['::ffff:a42:a', '10.66.0.10'],
    // not an address: left alone
    ['not-an-ip', 'not-an-ip'],
    ['', '']
  ])('%s → %s', (ip, key) => {
    expect(ipLimitKey(ip)).toBe(key)
  })
})
