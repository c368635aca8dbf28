import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startLab, type Lab, type LabTopology } from '../../src/netlab/index.js'
import { LAB_NODE_PORT, LabTestnet } from '../../src/testnet/lab-testnet.js'
import { DEFAULT_CONFIG } from '../../src/node/config.js'
import { PENDING_UPGRADE_SECONDS_PER_IP } from '../../src/node/inbound-upgrades.js'
import { labSkipReason } from '../helpers/lab.js'

const skip = await labSkipReason('test/netlab/ipv6-per-64.test.ts')

const TOPOLOGY: LabTopology = {
  internet: { subnet: '10.68.0.0/24' },
  hosts: [
    { name: 'target', segment: 'internet', address: '10.68.0.10' },
    { name: 'flood', segment: 'internet', address: '10.68.0.20' },
    { name: 'honest', segment: 'internet', address: '10.68.0.30' }
  ]
}
/** ULA /64s that exist only in the lab's namespaces: the flooder owns all of FLOOD_NET, the honest host sits in HONEST_NET; the target has an address in each */
const FLOOD_NET = 'fd68:0:0:1'
const HONEST_NET = 'fd68:0:0:2'
const TARGET = `${FLOOD_NET}::10`
/** Source addresses the flooder uses, one per connection: libp2p's own per-address limit lets each in */
const SOURCES = 40
const CAP = DEFAULT_CONFIG.limits.inboundConnectionsPerIpPerSecond
/** Connections one /64 can hold in their handshake at once (the gater's per-key slots) */
const HOLD = PENDING_UPGRADE_SECONDS_PER_IP * CAP
/** How long the probe keeps each connection before counting which the target closed */
const HOLD_MS = 2_000

/** Longest wait for every connect to be answered before the hold starts */
const SETTLE_MS = 15_000

/**
 * Opens one TCP connection to the target from each given source address, says nothing (no handshake),
 * and HOLD_MS after every connect was answered prints how many the target closed and how many it still holds open
 */
const PROBE = `
const net = require('node:net')
const [target, port, sources, holdMs] = JSON.parse(process.argv[1])
const sockets = sources.map(localAddress => {
  const s = net.connect({ host: target, port, localAddress, family: 6 })
  s.state = 'pending'
  s.on('connect', () => { s.state = 'open' })
  // a reset before the probe saw its connect is the target closing an accepted connection, as
  // on a loaded probe whose event loop learns of both at once; any other error is a failed connect
  s.on('error', err => {
    if (s.state !== 'pending') return
    if (err.code === 'ECONNRESET') s.resetEarly = true
    else s.error = err.code
  })
  s.on('close', () => { s.state = s.error == null ? 'closed' : 'failed' })
  return s
})
const count = state => sockets.filter(s => s.state === state).length
// the hold counts from when every connect has an answer (a loaded target accepts late), at most ${SETTLE_MS} ms
const settleBy = Date.now() + ${SETTLE_MS}
const settled = setInterval(() => {
  if (count('pending') > 0 && Date.now() < settleBy) return
  clearInterval(settled)
  setTimeout(() => {
    const errors = [...new Set(sockets.map(s => s.error).filter(e => e != null))]
    console.log(JSON.stringify({ open: count('open'), closed: count('closed'), failed: count('failed'), pending: count('pending'), resetBeforeConnect: sockets.filter(s => s.resetEarly).length, errors }))
    for (const s of sockets) s.destroy()
  }, holdMs)
}, 50)
`

describe.skipIf(skip != null)('per-IP inbound limits over IPv6: one /64 is one IP (lab, ULA addresses)', () => {
  let lab: Lab
  let net: LabTestnet

  beforeAll(async () => {
    lab = await startLab(TOPOLOGY, { signal: AbortSignal.timeout(60_000) })
    const add = async (host: string, addrs: string[]): Promise<void> => {
      for (const addr of addrs) await lab.exec(host, ['ip', '-6', 'addr', 'add', addr, 'dev', 'eth0', 'nodad'])
    }
    await add('target', [`${TARGET}/64`, `${HONEST_NET}::10/64`])
    await add('flood', Array.from({ length: SOURCES }, (_, i) => `${FLOOD_NET}::${(0x100 + i).toString(16)}/64`))
    await add('honest', [`${HONEST_NET}::30/64`])
    // the daemon's default per-IP limit; IPv6 on all addresses (the socket is dual-stack)
    net = new LabTestnet(lab, { config: { listen: [`/ip6/::/tcp/${LAB_NODE_PORT}`] } })
    await net.start('target', { signal: AbortSignal.timeout(90_000) })
  }, 180_000)

  afterAll(async () => {
    await net?.stop()
    await lab?.stop()
  })

  async function probe (host: string, target: string, sources: string[]): Promise<{ open: number, closed: number, failed: number, pending: number, errors: string[] }> {
    const { stdout } = await lab.exec(host, [process.execPath, '-e', PROBE, JSON.stringify([target, LAB_NODE_PORT, sources, HOLD_MS])], { timeoutMs: 30_000 })
    return JSON.parse(stdout)
  }

  it(`a host with ${SOURCES} source addresses in one /64 holds at most ${HOLD} handshakes, and a host in another /64 still gets in`, async () => {
    const sources = Array.from({ length: SOURCES }, (_, i) => `${FLOOD_NET}::${(0x100 + i).toString(16)}`)
    const flood = await probe('flood', TARGET, sources)
    console.log(`ipv6 /64 flood: ${JSON.stringify(flood)} of ${SOURCES} connections, each from its own address`)
    expect(flood.failed + flood.pending).toBe(0)
    // per address, all 40 would be let in (each address's first connection) and held
    expect(flood.open).toBeLessThanOrEqual(HOLD)
    expect(flood.closed).toBeGreaterThanOrEqual(SOURCES - HOLD)
    // the other /64 is not charged for the flooder's connections
    expect(await probe('honest', `${HONEST_NET}::10`, [`${HONEST_NET}::30`])).toMatchObject({ open: 1, closed: 0 })
  }, 60_000)
})
