import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Testnet } from '../../src/testnet/testnet.js'
import { internalsOf } from '../../src/node/internals.js'
import type { KizunaNode } from '../../src/node/node.js'
import type { AddEvent, GetEvent } from '../../src/sharing/events.js'
import { CID } from 'multiformats/cid'
import { sha256File, writeRandomFile } from '../helpers/files.js'
import { waitFor } from '../helpers/wait.js'

const MiB = 1024 * 1024

async function add (node: KizunaNode, path: string): Promise<string> {
  let cid: string | undefined
  for await (const event of node.add(path) as AsyncGenerator<AddEvent>) if (event.type === 'add:done') cid = event.cid
  return cid!
}

async function get (node: KizunaNode, cid: string, output?: string): Promise<GetEvent[]> {
  const events: GetEvent[] = []
  for await (const event of node.get(cid, { output })) events.push(event)
  return events
}

/** Counts the DHT operations a node starts (a lookup or an announcement is a network walk) */
function countDht (node: KizunaNode): Record<'findProviders' | 'provide' | 'getClosestPeers', string[]> {
  const dht = internalsOf(node).libp2p.services.dht as unknown as Record<string, (key: CID, ...rest: unknown[]) => unknown>
  const calls = { findProviders: [] as string[], provide: [] as string[], getClosestPeers: [] as string[] }
  for (const name of Object.keys(calls) as Array<keyof typeof calls>) {
    const original = dht[name].bind(dht)
    dht[name] = (key, ...rest) => { calls[name].push(String(key)); return original(key, ...rest) }
  }
  return calls
}

describe('a get of content already here (real nodes over loopback)', () => {
  let testnet: Testnet
  let dir: string

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kizuna-local-get-'))
    testnet = await Testnet.start({ size: 2, mode: 'in-process', bootstrap: 'first', config: { replicas: 1 } })
  })

  afterAll(async () => {
    await testnet?.stop()
    await rm(dir, { recursive: true, force: true })
  })

  it('asks nobody: no DHT walk, no HAVE query, no byte; the last get\'s announcement waits until the gets are done', async () => {
    const [publisher, downloader] = testnet.members.map(m => m.node!)
    const source = join(dir, 'small.bin')
    const hash = await writeRandomFile(source, 1024)
    const cid = await add(publisher, source)
    const dht = countDht(downloader)
    const first = await get(downloader, cid, join(dir, 'small.1'))
    expect(first.map(e => e.type)).toContain('get:searching')

    const asked = internalsOf(publisher).sharing.stats()
    // the node's own background walks (join lookups, mailbox drains) may run meanwhile: what must not
    // run is a walk for this content
    const before = { find: dht.findProviders.length, closest: dht.getClosestPeers.length }
    const forContent = (): string[] => [...dht.findProviders.slice(before.find), ...dht.getClosestPeers.slice(before.closest)]
      .filter(key => key === CID.parse(cid).toString() || key === String(CID.parse(cid).multihash.bytes))
    const again = await get(downloader, cid, join(dir, 'small.2'))
    expect(again[0]).toMatchObject({ type: 'get:local', cid })
    expect(again.map(e => e.type)).not.toContain('get:searching')
    expect(again.at(-1)).toMatchObject({ type: 'get:done', bytesFetched: 0 })
    expect(await sha256File(join(dir, 'small.2'))).toBe(hash)
    // nothing went to the network during the local get, and the first get's announcement (a
    // DHT walk) has not started yet: it would have run beside the local get
    expect(forContent()).toEqual([])
    expect(dht.findProviders.length).toBe(before.find)
    expect(dht.provide).not.toContain(CID.parse(cid).toString())
    const answered = internalsOf(publisher).sharing.stats()
    expect(answered.exchange.haveQueries).toBe(asked.exchange.haveQueries)
    expect(answered.uploadedBytes).toBe(asked.uploadedBytes)

    // the fetched content is still announced, once, after the gets
    await waitFor(() => dht.provide.includes(CID.parse(cid).toString()), { timeoutMs: 30_000, message: 'the deferred announcement' })
    expect(dht.provide.filter(key => key === CID.parse(cid).toString())).toHaveLength(1)
  })

  it('a partially local content fetches only what is missing', async () => {
    const [publisher, downloader] = testnet.members.map(m => m.node!)
    const source = join(dir, 'partial.bin')
    const hash = await writeRandomFile(source, 3 * MiB + 77)
    const cid = await add(publisher, source)
    await get(downloader, cid)
    const refs = await internalsOf(downloader).content.blockRefs(CID.parse(cid))
    const leaf = refs!.find(ref => ref.size === MiB)!
    await internalsOf(downloader).blocks.delete(leaf.cid)

    const events = await get(downloader, cid, join(dir, 'partial.out'))
    expect(events.map(e => e.type)).not.toContain('get:local')
    expect(events.map(e => e.type)).toContain('get:searching')
    expect(events.at(-1)).toMatchObject({ type: 'get:done', bytesFetched: MiB })
    expect(await sha256File(join(dir, 'partial.out'))).toBe(hash)
  })
})
