import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { internalsOf } from '../../src/node/internals.js'
import type { KizunaNode } from '../../src/node/node.js'
import { DEFAULT_CONFIG, type NatConfig } from '../../src/node/config.js'
import { startNatNode } from '../helpers/nat-node.js'
import type { GetEvent } from '../../src/sharing/events.js'
import { writeRandomFile } from '../helpers/files.js'
import { waitFor } from '../helpers/wait.js'
import { RELAY_BULK_MIN_BYTES } from '../../src/nat/bulk-dialer.js'

const MiB = 1024 * 1024
/** The relay operator's opt-in: this many bytes per relayed connection (≥ RELAY_BULK_MIN_BYTES) */
const BULK_BYTES = 9 * MiB
const FILE_BYTES = 12 * MiB

/**
 * A relay whose operator opted in to carry content (nat.relay.bulkBytes): a NATed holder's
 * blocks cross it up to the cap, and a get that hits the cap mid-transfer resumes elsewhere.
 */
describe('relay bulk opt-in and its byte cap', () => {
  let dir: string
  const nodes: KizunaNode[] = []

  async function start (name: string, nat: Partial<NatConfig>, listen: string[], bootstrap: string[] = []): Promise<KizunaNode> {
    const node = await startNatNode(dir, name, nat, { listen, bootstrap })
    nodes.push(node)
    return node
  }
  const addrOf = (node: KizunaNode): string => `${node.addrs().find(a => a.includes('/tcp/') && !a.includes('/p2p-circuit'))!.split('/p2p/')[0]}/p2p/${node.peerId.toString()}`

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kizuna-relay-bulk-'))
  })

  afterAll(async () => {
    await Promise.allSettled(nodes.map(async n => { await n.stop() }))
    await rm(dir, { recursive: true, force: true })
  })

  it('carries blocks up to the cap, then the get resumes from a holder reached directly', async () => {
    const relay = await start('relay', { reachability: 'public', relay: { ...DEFAULT_CONFIG.nat.relay, bulkBytes: BULK_BYTES } }, ['/ip4/127.0.0.1/tcp/0'])
    // NATed: listens nowhere, reachable only through its reservation
    const holder = await start('holder', { reachability: 'private', relayReservations: 1 }, [], [addrOf(relay)])
    const downloader = await start('downloader', { reachability: 'private', relayReservations: 1 }, [], [addrOf(relay)])
    await waitFor(() => holder.addrs().some(a => a.includes('/p2p-circuit')), { timeoutMs: 20_000, message: 'a reservation on the relay' })
    const file = join(dir, 'twelve-mib.bin')
    await writeRandomFile(file, FILE_BYTES)
    let cid = ''
    for await (const event of holder.add(file, { replicas: 1 })) if (event.type === 'add:done') cid = event.cid

    await downloader.connect(holder.addrs().find(a => a.includes('/p2p-circuit'))!)
    const relayed = internalsOf(downloader).libp2p.getConnections(holder.peerId)
    expect(relayed.every(c => c.limits != null)).toBe(true)
    expect(Number(relayed[0].limits?.bytes)).toBeGreaterThan(RELAY_BULK_MIN_BYTES)

    const events: GetEvent[] = []
    const err = await (async () => {
      for await (const event of internalsOf(downloader).sharing.get(cid, { providerTimeoutMs: 3_000 })) events.push(event)
    })().then(() => undefined, (e: Error & { code?: string }) => e)
    const progress = events.filter(e => e.type === 'get:progress')
    const fetched = progress.length > 0 ? (progress.at(-1) as { bytesDone: number }).bytesDone : 0
    console.log(`relay bulk: ${err?.code ?? 'done'} after ${fetched} bytes`)
    // blocks crossed the opted-in relay, up to its cap, and then the relay cut the circuit; the
    // downloader does not take a fresh grant by reconnecting (the cap is per transfer)
    expect(fetched).toBeGreaterThan(BULK_BYTES / 2)
    expect(fetched).toBeLessThanOrEqual(BULK_BYTES)
    // the final error and the progress event name the holder, the relay's cap and the way out
    expect(err?.code).toBe('ERR_RELAY_CAP_REACHED')
    expect(err?.message).toContain(holder.peerId.toString())
    expect(err?.message).toMatch(/byte cap \(nat\.relay\.bulkBytes\).*what you can do.*fetches only the rest/)
    const capped = events.find(e => e.type === 'get:relay-only' && e.peerId === holder.peerId.toString())
    expect(capped).toMatchObject({ cause: 'relay-cap-reached' })
    expect(capped?.type === 'get:relay-only' ? capped.error : '').toMatch(/byte cap \(nat\.relay\.bulkBytes\)/)

    // a holder the downloader reaches directly: the get resumes, keeping what crossed the relay
    const direct = await start('direct', { reachability: 'public', relay: { ...DEFAULT_CONFIG.nat.relay, enabled: false } }, ['/ip4/127.0.0.1/tcp/0'], [addrOf(relay)])
    for await (const event of direct.add(file, { replicas: 1 })) if (event.type === 'add:done') expect(event.cid).toBe(cid)
    await downloader.connect(addrOf(direct))
    const resumed: GetEvent[] = []
    for await (const event of internalsOf(downloader).sharing.get(cid, { providerTimeoutMs: 3_000 })) resumed.push(event)
    const done = resumed.find(e => e.type === 'get:done')
    expect(done).toBeDefined()
    if (done?.type === 'get:done') {
      expect(done.providers.map(p => p.peerId)).toContain(direct.peerId.toString())
      // only the blocks the relay did not carry (blocks are 1 MiB; bytesDone also counts DAG nodes)
      expect(done.bytesFetched).toBeLessThan(FILE_BYTES / 2)
      expect(done.size).toBe(FILE_BYTES)
    }
  }, 40_000)
})
