import { describe, expect, it } from 'vitest'
import { decideDhtMode, decideRelayServer, decideReachability, decideReservations, INBOUND_EVIDENCE_MS, REACHABILITY_GRACE_MS } from '../../src/nat/policy.js'
import { carriesBulk, RELAY_BULK_MIN_BYTES } from '../../src/nat/bulk-dialer.js'
import { validateConfig } from '../../src/node/config.js'
import type { Reachability } from '../../src/node/config.js'

describe('NAT policies', () => {
  it.each([
    // configured, confirmed, public peers, for ms, last public inbound ms ago → reachability
    ['auto', 0, 0, 0, undefined, 'unknown'], // LAN-only or alone
    ['auto', 1, 3, 0, 1_000, 'public'], // AutoNAT confirmed an address, and its dial-back came in
    ['auto', 1, 3, 0, undefined, 'unknown'], // "confirmed" but nobody ever dialled us: a liar's word
    ['auto', 1, 3, REACHABILITY_GRACE_MS, undefined, 'private'], // ... and it does not last
    ['auto', 1, 3, 0, INBOUND_EVIDENCE_MS + 1, 'unknown'], // the evidence is too old
    ['auto', 0, 3, REACHABILITY_GRACE_MS - 1, 1_000, 'unknown'], // AutoNAT still has time
    ['auto', 0, 3, REACHABILITY_GRACE_MS, 1_000, 'private'], // talks to the internet, never confirmed
    ['public', 0, 0, 0, undefined, 'public'],
    ['private', 5, 5, 0, 1_000, 'private']
  ] as const)('reachability %s, %i confirmed, %i public peers for %i ms, inbound %s ms ago → %s', (configured, confirmed, publicPeers, forMs, inboundAgo, expected) => {
    expect(decideReachability({ configured, confirmedPublicAddrs: confirmed, publicPeers, publicPeersForMs: forMs, inboundPublicAgoMs: inboundAgo })).toBe(expected)
  })

  it.each([
    ['auto', 'public', 5, 'server'],
    ['auto', 'private', 5, 'client'],
    ['auto', 'unknown', 0, 'server'], // a LAN-only swarm serves, as before
    ['auto', 'unknown', 2, 'client'], // not yet confirmed, public peers around: ask only
    ['server', 'private', 5, 'server'],
    ['client', 'public', 5, 'client']
  ] as const)('DHT mode %s with %s reachability and %i public peers → %s', (configured, reachability, publicPeers, expected) => {
    expect(decideDhtMode(configured, reachability, publicPeers)).toBe(expected)
  })

  it.each([
    [true, 'public', true, 0],
    [true, 'private', false, 2],
    [true, 'unknown', false, 0],
    [false, 'public', false, 0]
  ] as Array<[boolean, Reachability, boolean, number]>)('relay enabled %s, %s → serves %s, reserves %i', (enabled, reachability, serves, reserves) => {
    expect(decideRelayServer(enabled, reachability)).toBe(serves)
    expect(decideReservations(2, reachability)).toBe(reserves)
  })

  it('blocks travel on direct connections and on relays that granted enough bytes', () => {
    expect(carriesBulk({ limits: undefined })).toBe(true)
    expect(carriesBulk({ limits: { bytes: 128n * 1024n, seconds: 120 } })).toBe(false)
    expect(carriesBulk({ limits: { bytes: BigInt(RELAY_BULK_MIN_BYTES), seconds: 120 } })).toBe(true)
    expect(carriesBulk({ limits: { seconds: 120 } })).toBe(true)
  })

  it('the nat config section is validated field by field', () => {
    expect(validateConfig({ nat: { relay: { bulkBytes: 1024 } } }).nat.relay).toMatchObject({ bulkBytes: 1024, enabled: true })
    expect(() => validateConfig({ nat: { dhtMode: 'sometimes' } })).toThrow(/nat.dhtMode/)
    expect(() => validateConfig({ nat: { relay: { bogus: 1 } } })).toThrow(/nat.relay.bogus/)
    expect(() => validateConfig({ nat: { relayReservations: 9 } })).toThrow(/nat.relayReservations/)
  })
})
