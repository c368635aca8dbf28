import { createHash, randomBytes } from 'node:crypto'
import { importBytes } from 'ipfs-unixfs-importer'
import { fixedSize } from 'ipfs-unixfs-importer/chunker'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { describe, expect, it } from 'vitest'
import { InMemoryBlockStore } from '../../../src/content/blocks/memory-block-store.js'
import { EXCHANGE_PROTOCOL, encodeMessage } from '../../../src/exchange/wire/codec.js'
import { ExchangeServer } from '../../../src/exchange/server/server.js'
import { DEFAULT_BUDGETS, DROP_AFTER_DEBT } from '../../../src/exchange/server/request-budget.js'
import { fetchDag, type FetchEvent } from '../../../src/exchange/client/session.js'
import { PenaltyBox } from '../../../src/sharing/penalties.js'
import type { BlockStore } from '../../../src/content/blocks/block-store.js'
import { useExchangeFixture } from '../../helpers/exchange-fixture.js'
import { dagFileSha } from '../../helpers/dag-file.js'
import { waitFor } from '../../helpers/wait.js'

const { node, fetcher, adopt } = useExchangeFixture()

/** WANTs the flooder sends at most: far past its burst plus the drop debt */
const FLOOD_WANTS = 60_000
/** The honest download must finish within this, flood or not */
const HONEST_BOUND_MS = 30_000

/** The store calls a request costs the server: a lookup (has/size) or a read (get) */
function counting (store: BlockStore): { store: BlockStore, calls: () => number } {
  let calls = 0
  return {
    calls: () => calls,
    store: {
      has: async (cid, o) => { calls++; return await store.has(cid, o) },
      size: async (cid, o) => { calls++; return await store.size(cid, o) },
      get: async (cid, o) => { calls++; return await store.get(cid, o) },
      put: async (cid, b, o) => { await store.put(cid, b, o) },
      delete: async (cid, o) => { await store.delete(cid, o) }
    }
  }
}

/**
 * One peer with an accepted connection sends WANTs as fast as it can (real blocks and random
 * CIDs mixed: reads and DONT_HAVE lookups), while an honest peer downloads a file. The per-peer
 * request budget (request-budget.ts) slows the flooder (BUSY, nothing looked up), then drops and
 * penalises it; the honest download finishes in bounded time.
 */
describe('a WANT flood over an accepted connection', () => {
  it('costs the server at most the budget, the flooder is dropped, and an honest peer still gets its file', async () => {
    const data = randomBytes(4 * 1024 * 1024)
    const inner = new InMemoryBlockStore()
    const blocks: CID[] = []
    const entry = await importBytes(data, {
      put: async (cid: CID, bytes: Uint8Array) => { blocks.push(cid); await inner.put(cid, bytes); return cid }
    } as any, { cidVersion: 1, rawLeaves: true, chunker: fixedSize({ chunkSize: 256 * 1024 }) })
    const { store, calls } = counting(inner)
    const n = await node()
    const penalties = new PenaltyBox()
    const server = new ExchangeServer({ registrar: n, blockStore: store, penalties })
    await server.start()
    adopt(server)

    const flooder = await fetcher([n])
    const honest = await fetcher([n])
    const randoms = await Promise.all(Array.from({ length: 256 }, async () => CID.createV1(raw.code, await sha256.digest(randomBytes(16)))))
    const targets = [...blocks, ...randoms]

    const honestStore = new InMemoryBlockStore()
    const started = Date.now()
    const honestRun = (async () => {
      const events: FetchEvent[] = []
      for await (const e of fetchDag(entry.cid, { blockStore: honestStore, providers: [n.peerId], client: honest.client })) events.push(e)
      return { events, ms: Date.now() - started }
    })()

    const stream = await flooder.node.dialProtocol(n.peerId, EXCHANGE_PROTOCOL)
    // the flooder reads what it gets (a peer that stops reading is another test's case)
    stream.addEventListener('message', () => {})
    let sent = 0
    try {
      for (let id = 1; id <= FLOOD_WANTS && stream.status === 'open'; id++) {
        if (!stream.send(encodeMessage({ type: 'want', id, cid: targets[id % targets.length] }) as Uint8Array)) await stream.onDrain().catch(() => {})
        sent++
      }
    } catch {
      // hung up on: the point of the test
    }
    const floodMs = Date.now() - started
    await waitFor(() => penalties.isPenalised(flooder.node.peerId.toString()), { timeoutMs: 20_000, message: 'the flooder dropped and penalised' })

    const honestDone = await honestRun
    expect(honestDone.events.at(-1)?.type).toBe('fetch:done')
    expect(await dagFileSha(honestStore, entry.cid)).toBe(createHash('sha256').update(data).digest('hex'))
    expect(honestDone.ms).toBeLessThan(HONEST_BOUND_MS)

    const budget = DEFAULT_BUDGETS.want
    const stats = server.stats()
    // what the flooder cost: at most its burst plus the refill while it lasted (plus the honest download's own calls)
    const allowed = budget.burst + budget.ratePerSecond * floodMs / 1000 + 4 * blocks.length
    console.log(`want flood: ${sent} WANTs sent in ${floodMs} ms, ${stats.overBudget} answered BUSY (over budget), store calls ${calls()} (allowed ${Math.round(allowed)}), drop after debt ${DROP_AFTER_DEBT}×${budget.burst}; honest 4 MiB in ${honestDone.ms} ms`)
    expect(calls()).toBeLessThan(allowed)
    expect(sent).toBeGreaterThan(budget.burst)
    expect(stats.overBudget).toBeGreaterThan(0)
    expect(stats.peersDropped).toBe(1)
  }, 90_000)
})
