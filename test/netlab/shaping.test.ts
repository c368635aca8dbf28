import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { gsoMaxBytes, measureTcpThroughput, startLab, tcpCountersAll, tcpSummary, type Lab, type LabTopology } from '../../src/netlab/index.js'
import { labSkipReason } from '../helpers/lab.js'

const skip = await labSkipReason('test/netlab/shaping.test.ts')

const UPLINK_MBIT = 10
/** A 10 Mbit/s uplink: its queue (100 ms + the bucket) overflows under one bulk flow */
const TOPOLOGY: LabTopology = {
  internet: { subnet: '10.83.0.0/24' },
  hosts: [
    { name: 'thin', segment: 'internet', address: '10.83.0.10', uplinkMbit: UPLINK_MBIT },
    { name: 'sink', segment: 'internet', address: '10.83.0.11' }
  ]
}
/** Retransmitted ÷ sent segments allowed: 7-13 % before GSO packets were capped, 0 after (one-off timeouts on a loaded machine aside) */
const MAX_RETRANSMITTED_SHARE = 0.01

describe('gsoMaxBytes: GSO packets fit twice in the tbf bucket', () => {
  it.each([
    [64 * 1024, 32 * 1024],
    [100_000, 50_000],
    [131_072, 65_536],
    [500_000, 65_536]
  ])('bucket %i bytes → at most %i bytes a packet', (burst, expected) => {
    expect(gsoMaxBytes(burst)).toBe(expected)
  })
})

describe.skipIf(skip != null)('a shaped uplink drops without losing: TCP is told, backs off and sends nothing twice', () => {
  let lab: Lab

  beforeAll(async () => {
    lab = await startLab(TOPOLOGY, { signal: AbortSignal.timeout(60_000) })
  }, 120_000)

  afterAll(async () => {
    await lab?.stop()
  })

  it(`one bulk flow through a ${UPLINK_MBIT} Mbit/s uplink fills its queue, runs at the rate and retransmits (almost) nothing`, async () => {
    const before = await tcpCountersAll(lab, ['thin'])
    const result = await measureTcpThroughput(lab, 'thin', 'sink', { bytes: 8 * 1024 * 1024 })
    const tcp = tcpSummary(before, await tcpCountersAll(lab, ['thin']))
    console.log(`shaped uplink: ${result.mbitPerSecond.toFixed(1)} Mbit/s, ${JSON.stringify(tcp)}`)
    // the queue did overflow, so this is the case where a drop could have been a loss
    expect(tcp.uplinkDrops).toBeGreaterThan(0)
    expect(tcp.retransmittedShare).toBeLessThan(MAX_RETRANSMITTED_SHARE)
    expect(result.mbitPerSecond).toBeGreaterThan(UPLINK_MBIT * 0.85)
    expect(result.mbitPerSecond).toBeLessThan(UPLINK_MBIT * 1.15)
    const { stdout } = await lab.exec('thin', ['ip', '-d', 'link', 'show', 'dev', 'eth0'])
    expect(stdout).toContain(`gso_max_size ${gsoMaxBytes(64 * 1024)}`)
  }, 90_000)
})
