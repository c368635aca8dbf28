import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Testnet } from '../../src/testnet/testnet.js'
import { internalsOf } from '../../src/node/internals.js'
import { ReplicaFetchGuard } from '../../src/replication/replica-fetch.js'
import { CID } from 'multiformats/cid'
import * as dagPb from '@ipld/dag-pb'
import type { BlockStore } from '../../src/content/index.js'
import type { KizunaNode } from '../../src/node/node.js'
import type { AddEvent, GetEvent } from '../../src/sharing/events.js'
import { sha256File, writeRandomFile } from '../helpers/files.js'
import { waitFor } from '../helpers/wait.js'

const MiB = 1024 * 1024
const SIZE = 6 * MiB + 321

async function add (node: KizunaNode, path: string): Promise<string> {
  let cid: string | undefined
  for await (const event of node.add(path) as AsyncGenerator<AddEvent>) if (event.type === 'add:done') cid = event.cid
  return cid!
}

async function get (node: KizunaNode, cid: string, output: string, log?: string[]): Promise<GetEvent[]> {
  const events: GetEvent[] = []
  for await (const event of node.get(cid, { output })) {
    events.push(event)
    log?.push(event.type)
  }
  return events
}

/** Bytes the publisher's exchange server sent since `before` */
function servedSince (publisher: KizunaNode, before: number): number {
  return internalsOf(publisher).sharing.stats().uploadedBytes - before
}

describe('one fetch per content per node (real nodes over loopback)', () => {
  let testnet: Testnet
  let dir: string

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kizuna-one-fetch-'))
    testnet = await Testnet.start({ size: 2, mode: 'in-process', bootstrap: 'first', config: { replicas: 1 } })
  })

  afterAll(async () => {
    await testnet?.stop()
    await rm(dir, { recursive: true, force: true })
  })

  it('a get racing a replica fetch of the same content joins it: the file crosses the wire once', async () => {
    const [publisher, downloader] = testnet.members.map(m => m.node!)
    const source = join(dir, 'raced.bin')
    const hash = await writeRandomFile(source, SIZE)
    const cid = await add(publisher, source)
    const sharing = internalsOf(downloader).sharing
    const before = internalsOf(publisher).sharing.stats().uploadedBytes
    // what offer-intake does for an accepted offer: a guarded, cached fetch from the offerer
    const guard = new ReplicaFetchGuard(internalsOf(downloader).blocks, { maxBytes: SIZE * 2, stallMs: 30_000 })
    const hints = internalsOf(publisher).libp2p.getMultiaddrs().map(ma => ma.toString())
    // started in the same tick: the get finds the replica fetch running and must join it
    const replica = (async () => {
      for await (const _ of sharing.fetch(CID.parse(cid), { hints, kind: 'cached', askConnected: false, blockStore: guard.store })) { /* drain */ }
    })()
    const out = join(dir, 'raced.out')
    const [events] = await Promise.all([get(downloader, cid, out), replica])
    guard.done()
    expect(events.map(e => e.type)).not.toContain('get:local')
    expect(events.at(-1)?.type).toBe('get:done')
    expect(await sha256File(out)).toBe(hash)
    expect(servedSince(publisher, before)).toBeLessThanOrEqual(SIZE * 1.02)
  })

  it('a get -o joining a replica fetch under way has the rest of the leaves written once, into its file', async () => {
    const [publisher, downloader] = testnet.members.map(m => m.node!)
    const source = join(dir, 'joined.bin')
    const hash = await writeRandomFile(source, SIZE)
    const cid = CID.parse(await add(publisher, source))
    const { sharing, blocks } = internalsOf(downloader)
    const before = internalsOf(publisher).sharing.stats().uploadedBytes
    const guard = new ReplicaFetchGuard(blocks, { maxBytes: SIZE * 2, stallMs: 30_000 })
    // the replica fetch's root waits here until the get has joined: it goes to the replica's store,
    // the leaves after it to the get's output, which learns the root from the store
    let open!: () => void
    const gate = new Promise<void>(resolve => { open = resolve })
    let shared = false
    let rootAtGate = false
    const gated: BlockStore = {
      ...guard.store,
      put: async (c, bytes, options) => {
        if (c.code === dagPb.code) { rootAtGate = true; await gate }
        await guard.store.put(c, bytes, options)
      }
    }
    const hints = internalsOf(publisher).libp2p.getMultiaddrs().map(ma => ma.toString())
    const replica = (async () => {
      const onShared = (): void => { shared = true; guard.shared(); open() }
      for await (const _ of sharing.fetch(cid, { hints, kind: 'cached', askConnected: false, blockStore: gated, onShared })) { /* drain */ }
    })()
    await waitFor(() => rootAtGate, { timeoutMs: 20_000, message: 'the replica fetch holding the root' })
    const out = join(dir, 'joined.out')
    const [events] = await Promise.all([get(downloader, cid.toString(), out), replica])
    guard.done()
    expect(shared).toBe(true)
    expect(events.at(-1)?.type).toBe('get:done')
    expect(await sha256File(out)).toBe(hash)
    expect(servedSince(publisher, before)).toBeLessThanOrEqual(SIZE * 1.02)
    // leaves the session wrote into the output are kept by reference to it: stored once, not twice
    const leaves = dagPb.decode(await blocks.get(cid)).Links.map(link => link.Hash)
    const inOutput = (await Promise.all(leaves.map(async leaf => await blocks.reference?.(leaf)))).filter(r => r?.path === out)
    // before session-sink.ts every leaf went to the store and was copied out at the end: none
    expect(inOutput.length).toBeGreaterThanOrEqual(leaves.length / 2)
  })

  it('two concurrent gets of one CID on one node fetch it once, and both outputs are whole', async () => {
    const [publisher, downloader] = testnet.members.map(m => m.node!)
    const source = join(dir, 'twice.bin')
    const hash = await writeRandomFile(source, SIZE)
    const cid = await add(publisher, source)
    const before = internalsOf(publisher).sharing.stats().uploadedBytes
    const [a, b] = await Promise.all([get(downloader, cid, join(dir, 'twice.a')), get(downloader, cid, join(dir, 'twice.b'))])
    for (const events of [a, b]) {
      expect(events.map(e => e.type)).not.toContain('get:local')
      expect(events.at(-1)?.type).toBe('get:done')
    }
    expect(await sha256File(join(dir, 'twice.a'))).toBe(hash)
    expect(await sha256File(join(dir, 'twice.b'))).toBe(hash)
    expect(servedSince(publisher, before)).toBeLessThanOrEqual(SIZE * 1.02)
  })

  it('the get that started a fetch giving up (Ctrl-C) does not stop it for a get that joined', async () => {
    const [publisher, downloader] = testnet.members.map(m => m.node!)
    const source = join(dir, 'left.bin')
    const hash = await writeRandomFile(source, SIZE)
    const cid = await add(publisher, source)
    const controller = new AbortController()
    const first = (async () => {
      for await (const event of downloader.get(cid, { output: join(dir, 'left.a'), signal: controller.signal })) {
        if (event.type === 'get:progress') controller.abort(new Error('user pressed Ctrl-C'))
      }
    })()
    const second = get(downloader, cid, join(dir, 'left.b'))
    await expect(first).rejects.toThrow()
    expect((await second).at(-1)?.type).toBe('get:done')
    expect(await sha256File(join(dir, 'left.b'))).toBe(hash)
  })

  it('a small get reports done before its DHT announcement starts', async () => {
    const [publisher, downloader] = testnet.members.map(m => m.node!)
    const source = join(dir, 'small.bin')
    await writeRandomFile(source, 1024)
    const cid = await add(publisher, source)
    const dht = internalsOf(downloader).libp2p.services.dht
    const original = dht.provide.bind(dht)
    const log: string[] = []
    // a provide that records when it starts and takes its time, as a walk in a big swarm does
    dht.provide = async function * (key, options) {
      log.push('provide:start')
      await new Promise(resolve => setTimeout(resolve, 300))
      yield * original(key, options)
    }
    try {
      await get(downloader, cid, join(dir, 'small.out'), log)
      await waitFor(() => log.includes('provide:start'), { timeoutMs: 10_000, message: 'the announcement' })
    } finally {
      dht.provide = original
    }
    expect(log.indexOf('get:done')).toBeGreaterThanOrEqual(0)
    expect(log.indexOf('get:done')).toBeLessThan(log.indexOf('provide:start'))
  })
})
