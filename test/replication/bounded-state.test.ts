import { randomBytes } from 'node:crypto'
import { MemoryDatastore } from 'datastore-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { CID } from 'multiformats/cid'
import { Testnet } from '../../src/testnet/testnet.js'
import { ReplicationService } from '../../src/replication/replication-service.js'
import { request } from '../../src/replication/protocol.js'
import { CHECKER_WINDOW_MS } from '../../src/replication/constants.js'
import type { KizunaNode } from '../../src/node/node.js'
import { internalsOf } from '../../src/node/internals.js'
import { waitFor } from '../helpers/wait.js'

/** Distinct roots offered, fetched and dropped, and checked with holder queries */
const ROOTS = 300
const FETCHES_AT_ONCE = 8

describe('replication state stays bounded: thousands of roots offered, fetched and dropped', () => {
  let testnet: Testnet
  let service: ReplicationService

  beforeAll(async () => {
    // both nodes' own replication is off: the cacher's service is built here with limits the test can reach
    testnet = await Testnet.start({ size: 2, mode: 'in-process', bootstrap: 'first', peerTimeout: 60, config: { replication: false } })
    const cacher = internalsOf(testnet.members[1].node as KizunaNode)
    service = new ReplicationService({ libp2p: cacher.libp2p, view: cacher.view, content: cacher.content, sharing: cacher.sharing, datastore: new MemoryDatastore() }, {
      offersPerMinutePerPeer: 10 * ROOTS,
      maxConcurrentFetches: FETCHES_AT_ONCE,
      cacheBytes: 256 * 1024,
      cacheIdleMs: 0,
      checkIntervalMs: 250
    })
    await service.start()
  })

  afterAll(async () => {
    await service?.stop()
    await testnet?.stop()
  })

  it('every table returns to a small size once the copies are gone', async () => {
    const [publisher, cacher] = testnet.members.map(m => internalsOf(m.node as KizunaNode))
    const roots: CID[] = []
    for (let i = 0; i < ROOTS; i++) {
      for await (const event of publisher.content.addStream((async function * () { yield randomBytes(512) })(), 512, { kind: 'pinned' })) {
        if (event.type === 'import:done') roots.push(event.cid)
      }
    }
    const hints = publisher.libp2p.getMultiaddrs().map(ma => ma.toString()).slice(0, 2)
    const outcomes = new Map<string, number>()
    let peakChecked = 0
    let next = 0
    await Promise.all(Array.from({ length: FETCHES_AT_ONCE }, async () => {
      while (next < roots.length) {
        const root = roots[next++]
        // a holder check first (it is remembered as replication traffic), then the offer
        await request(publisher.libp2p, cacher.libp2p.peerId, { type: 'holder-query', root })
        for (let attempt = 0; attempt < 200; attempt++) {
          const reply = await request(publisher.libp2p, cacher.libp2p.peerId, { type: 'offer', root, size: 512, reason: 'demand', floor: 0, hints })
          const outcome = reply.type === 'offer-reply' ? (reply.reason ?? (reply.accepted ? 'accepted' : 'declined')) : 'bad reply'
          if (outcome !== 'busy') {
            outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1)
            break
          }
          await waitFor(() => service.stateSizes().reservations < FETCHES_AT_ONCE, { timeoutMs: 30_000, intervalMs: 5 })
        }
        peakChecked = Math.max(peakChecked, service.stateSizes().checkers)
      }
    }))
    expect(outcomes.get('accepted')).toBe(ROOTS)
    expect(peakChecked).toBeGreaterThan(ROOTS / 2)

    // every copy arrives and is dropped again (idle at once, and over a 256 KiB quota)
    await waitFor(async () => service.stateSizes().reservations === 0 && (await cacher.content.list()).length === 0, { timeoutMs: 60_000, intervalMs: 100, message: 'every replica fetched and dropped' })

    // the holder checks' window passes; every table is back to (near) empty
    const sizes = await waitFor(() => {
      const now = service.stateSizes()
      return now.checkers === 0 ? now : undefined
    }, { timeoutMs: CHECKER_WINDOW_MS + 30_000, intervalMs: 250, message: 'the holder-check window to pass' })
    expect(sizes).toEqual({
      indexedBlocks: 0,
      indexedRoots: 0,
      offered: 0,
      checkers: 0,
      touched: 0,
      // the one peer's offer window, unless its minute has passed already
      rateWindows: sizes.rateWindows <= 1 ? sizes.rateWindows : -1,
      failedOffers: 0,
      demand: 0,
      roundRoots: 0,
      reservations: 0,
      replicaMeta: 0
    })
  }, 300_000)
})
