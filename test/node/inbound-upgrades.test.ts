import { multiaddr } from '@multiformats/multiaddr'
import type { MultiaddrConnection, PeerId } from '@libp2p/interface'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { InboundUpgradeSlots, PENDING_UPGRADE_HOLD_MAX_MS } from '../../src/node/inbound-upgrades.js'

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
    const slots = new InboundUpgradeSlots(1)
    const flood = [from('10.0.0.20', 1), from('10.0.0.20', 2)]
    expect(flood.map(c => slots.denyInboundConnection(c))).toEqual([false, false])
    expect(slots.denyInboundConnection(from('10.0.0.20', 3))).toBe(true)
    expect(slots.denyInboundConnection(from('10.0.0.30'))).toBe(false)
    expect(slots.pendingFrom('10.0.0.20')).toBe(2)
    expect(slots.pendingFrom('10.0.0.30')).toBe(1)
  })

  it('frees a slot when the handshake ends, or when the connection closes, once each', () => {
    const slots = new InboundUpgradeSlots(1)
    const [a, b] = [from('10.0.0.20', 1), from('10.0.0.20', 2)]
    slots.denyInboundConnection(a)
    slots.denyInboundConnection(b)
    slots.denyInboundUpgradedConnection(PEER, a)
    expect(slots.pendingFrom('10.0.0.20')).toBe(1)
    // the upgraded connection closing later frees nothing more
    ;(a as unknown as FakeConnection).close()
    expect(slots.pendingFrom('10.0.0.20')).toBe(1)
    ;(b as unknown as FakeConnection).close()
    ;(b as unknown as FakeConnection).close()
    expect(slots.pendingFrom('10.0.0.20')).toBe(0)
    expect(slots.denyInboundConnection(from('10.0.0.20', 3))).toBe(false)
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
})
