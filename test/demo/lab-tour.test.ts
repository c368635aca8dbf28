import { describe, expect, it } from 'vitest'
import { listNamespaces, ownerPid } from '../../src/netlab/index.js'
import { LAB_TOUR_TOPOLOGY, LAB_TOUR_UPLINK_MBIT, runLabTour, type TourStep } from '../../demo/lab/tour.js'
import { labSkipReason } from '../helpers/lab.js'

const skip = await labSkipReason('test/demo/lab-tour.test.ts')

/** tbf holds a host to its rate; a little above it is measurement noise (bucket, timing) */
const UPLINK_TOLERANCE = 1.15

describe.skipIf(skip != null)('npm run demo -- --lab: the tour behind it', () => {
  it('mDNS stays on its segment, nobody announces 127.0.0.1, a NATed host joins via a public one, uplinks bound the downloads, and the lab is gone after', async () => {
    const steps = await runLabTour({ signal: AbortSignal.timeout(150_000) })
    const of = <T extends TourStep['type']>(type: T): Array<Extract<TourStep, { type: T }>> => steps.filter((s): s is Extract<TourStep, { type: T }> => s.type === type)

    // mDNS: each of the 5 hosts found its segment mates and nobody behind/beyond the router
    expect(of('mdns').map(s => s.host).sort()).toEqual(['a1', 'a2', 'p1', 'p2', 'p3'])
    for (const s of of('mdns')) expect(s.across).toEqual([])

    // each announces its own lab address only
    for (const s of of('announces')) {
      const address = LAB_TOUR_TOPOLOGY.hosts.find(h => h.name === s.host)!.address
      expect(s.addrs).toContain(`/ip4/${address}/tcp/4010`)
      for (const addr of s.addrs) expect(addr.startsWith(`/ip4/${address}/`)).toBe(true)
    }

    const join = of('join')[0]
    expect(join.knows).toEqual(expect.arrayContaining(['p1', 'p2', 'p3']))
    // the public bootstrap keeps no address of the NATed host; its LAN mate keeps its LAN address
    expect(of('kept').find(s => s.by === 'p1')!.addrs).toEqual([])
    expect(of('kept').find(s => s.by === 'a2')!.addrs).toContain('/ip4/192.168.67.10/tcp/4010')

    const transfers = of('transfer').map(s => s.transfer)
    expect(transfers.map(t => `${t.publisher}→${t.getter}`)).toEqual(['p2→a1', 'a1→a2', 'p3→a2'])
    for (const t of transfers) expect(t.intact).toBe(true)
    for (const t of transfers.filter(t => t.uplinkMbit != null)) expect(t.mbitPerSecond).toBeLessThan(LAB_TOUR_UPLINK_MBIT * UPLINK_TOLERANCE)

    // everything the tour made is gone
    expect((await listNamespaces()).filter(ns => ownerPid(ns) === process.pid)).toEqual([])
  }, 180_000)

  it('an abort mid-tour removes the lab too', async () => {
    const controller = new AbortController()
    const tour = runLabTour({ signal: controller.signal, onStep: step => { if (step.type === 'lab') controller.abort(new Error('test abort')) } })
    await expect(tour).rejects.toThrow()
    expect((await listNamespaces()).filter(ns => ownerPid(ns) === process.pid)).toEqual([])
  }, 60_000)
})
