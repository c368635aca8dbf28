import { multiaddr } from '@multiformats/multiaddr'
import type { MultiaddrConnection, PeerId } from '@libp2p/interface'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { INBOUND_RATE_WINDOW_MS, InboundUpgradeSlots, PENDING_UPGRADE_HOLD_MAX_MS } from '../../src/node/inbound-upgrades.js'

/** The two things the gater reads of a connection: where it comes from, and its close event */
class FakeConnection extends EventTarget {
  readonly remoteAddr
  constructor (addr: string) {
    super()
    this.remoteAddr = multiaddr(addr)
  }

  close (): void {
    this.dispatchEvent(new Event('close'))
  }
}

const from = (ip: string, port = 4010): MultiaddrConnection => new FakeConnection(`/ip4/${ip}/tcp/${port}`) as unknown as MultiaddrConnection
const PEER = {} as unknown as PeerId
const from6 = (ip: string, port = 4010): MultiaddrConnection => new FakeConnection(`/ip6/${ip}/tcp/${port}`) as unknown as MultiaddrConnection
/** Asks the gater about each connection a rate window after the last, so only the slots bind */
const apart = (slots: InboundUpgradeSlots) => (connection: MultiaddrConnection): boolean => {
  vi.advanceTimersByTime(INBOUND_RATE_WINDOW_MS)
  return slots.denyInboundConnection(connection)
}

describe('InboundUpgradeSlots: handshakes in progress, capped per IP', () => {
  afterEach(() => { vi.useRealTimers() })

  it.each([
    [5, 10],
    [1000, 2000],
    [0.4, 1],
    [2.5, 5]
  ])('a rate of %s connections a second allows %s handshakes at once per IP', (rate, perIp) => {
    expect(new InboundUpgradeSlots(rate).perIp).toBe(perIp)
  })

  it('refuses an IP past its cap while other IPs still get in', () => {
    vi.useFakeTimers()
    const slots = new InboundUpgradeSlots(1)
    const deny = apart(slots)
    const flood = [from('10.0.0.20', 1), from('10.0.0.20', 2)]
    expect(flood.map(deny)).toEqual([false, false])
    expect(deny(from('10.0.0.20', 3))).toBe(true)
    expect(deny(from('10.0.0.30'))).toBe(false)
    expect(slots.pendingFrom('10.0.0.20')).toBe(2)
    expect(slots.pendingFrom('10.0.0.30')).toBe(1)
  })

  it('frees a slot when the handshake ends, or when the connection closes, once each', () => {
    vi.useFakeTimers()
    const slots = new InboundUpgradeSlots(1)
    const deny = apart(slots)
    const [a, b] = [from('10.0.0.20', 1), from('10.0.0.20', 2)]
    deny(a)
    deny(b)
    slots.denyInboundUpgradedConnection(PEER, a)
    expect(slots.pendingFrom('10.0.0.20')).toBe(1)
    // the upgraded connection closing later frees nothing more
    ;(a as unknown as FakeConnection).close()
    expect(slots.pendingFrom('10.0.0.20')).toBe(1)
    ;(b as unknown as FakeConnection).close()
    ;(b as unknown as FakeConnection).close()
    expect(slots.pendingFrom('10.0.0.20')).toBe(0)
    expect(deny(from('10.0.0.20', 3))).toBe(false)
  })

  it('ignores connections it never counted (outbound ones upgraded as responder) and asks the same one once', () => {
    const slots = new InboundUpgradeSlots(1)
    slots.denyInboundUpgradedConnection(PEER, from('10.0.0.20'))
    expect(slots.pendingFrom('10.0.0.20')).toBe(0)
    const a = from('10.0.0.20')
    slots.denyInboundConnection(a)
    slots.denyInboundConnection(a)
    expect(slots.pendingFrom('10.0.0.20')).toBe(1)
  })

  it('lets in addresses with no IP (nothing to count them by)', () => {
    const slots = new InboundUpgradeSlots(0.1)
    const unix = new FakeConnection('/unix/tmp%2Fkizuna.sock') as unknown as MultiaddrConnection
    expect(slots.denyInboundConnection(unix)).toBe(false)
    expect(slots.denyInboundConnection(new FakeConnection('/unix/tmp%2Fkizuna.sock') as unknown as MultiaddrConnection)).toBe(false)
  })

  it('frees a slot whose connection never ends after the backstop', () => {
    vi.useFakeTimers()
    const slots = new InboundUpgradeSlots(0.5)
    slots.denyInboundConnection(from('10.0.0.20', 1))
    expect(slots.denyInboundConnection(from('10.0.0.20', 2))).toBe(true)
    vi.advanceTimersByTime(PENDING_UPGRADE_HOLD_MAX_MS)
    expect(slots.pendingFrom('10.0.0.20')).toBe(0)
    expect(slots.denyInboundConnection(from('10.0.0.20', 3))).toBe(false)
  })

  it('counts new connections per IP in 1-s windows: the 6th in a window is refused, the next window lets 5 more in', () => {
    vi.useFakeTimers()
    const slots = new InboundUpgradeSlots(5)
    const verdicts = Array.from({ length: 7 }, (_, i) => slots.denyInboundConnection(from('10.0.0.20', i + 1)))
    expect(verdicts).toEqual([false, false, false, false, false, true, true])
    expect(slots.denyInboundConnection(from('10.0.0.30'))).toBe(false)
    vi.advanceTimersByTime(INBOUND_RATE_WINDOW_MS)
    expect(slots.denyInboundConnection(from('10.0.0.20', 100))).toBe(false)
  })

  it('treats every address of one IPv6 /64 as one IP, for the rate and for the slots', () => {
    vi.useFakeTimers()
    const slots = new InboundUpgradeSlots(5)
    // a host picking a new source address for each connection, all in fd00:1:2:3::/64
    const verdicts = Array.from({ length: 8 }, (_, i) => slots.denyInboundConnection(from6(`fd00:1:2:3::${(i + 1).toString(16)}`)))
    expect(verdicts).toEqual([false, false, false, false, false, true, true, true])
    expect(slots.pendingFrom('fd00:1:2:3::ffff')).toBe(5)
    // the next /64 is someone else
    expect(slots.denyInboundConnection(from6('fd00:1:2:4::1'))).toBe(false)
    // a second window: 5 more, then the /64's 10 handshake slots are full
    vi.advanceTimersByTime(INBOUND_RATE_WINDOW_MS)
    expect(Array.from({ length: 6 }, (_, i) => slots.denyInboundConnection(from6(`fd00:1:2:3::a:${i}`)))).toEqual([false, false, false, false, false, true])
    vi.advanceTimersByTime(INBOUND_RATE_WINDOW_MS)
    expect(slots.denyInboundConnection(from6('fd00:1:2:3::b:1'))).toBe(true)
    expect(slots.pendingFrom('fd00:1:2:3::1')).toBe(10)
  })
})
