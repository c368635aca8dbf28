import { randomBytes } from 'node:crypto'
import { mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as dagPb from '@ipld/dag-pb'
import { UnixFS } from 'ipfs-unixfs'
import { CID } from 'multiformats/cid'
import { multiaddr } from '@multiformats/multiaddr'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Testnet } from '../../../src/testnet/testnet.js'
import { InMemoryBlockStore } from '../../../src/content/blocks/memory-block-store.js'
import { ExchangeServer } from '../../../src/exchange/server/server.js'
import { createBareNode, stopAll } from '../../helpers/bare-node.js'
import { collect } from '../../helpers/collect.js'
import { codeOf } from '../../helpers/code-of.js'
import type { KizunaNode } from '../../../src/node/node.js'
import type { GetEvent } from '../../../src/sharing/events.js'
import type { Libp2p } from '@libp2p/interface'

const MiB = 1024 * 1024

async function put (store: InMemoryBlockStore, codec: number, bytes: Uint8Array): Promise<CID> {
  const cid = CID.createV1(codec, await sha256.digest(bytes))
  await store.put(cid, bytes)
  return cid
}

/** A UnixFS file node linking `child` (a file part of `childSize` bytes) `times` times */
async function fan (store: InMemoryBlockStore, child: CID, childSize: number, times: number): Promise<{ cid: CID, size: number }> {
  const unixfs = new UnixFS({ type: 'file', blockSizes: Array.from({ length: times }, () => BigInt(childSize)) })
  const node = dagPb.encode(dagPb.prepare({ Data: unixfs.marshal(), Links: Array.from({ length: times }, () => ({ Hash: child, Tsize: childSize })) }))
  return { cid: await put(store, dagPb.code, node), size: childSize * times }
}

describe('output safety against a hostile provider', () => {
  let testnet: Testnet
  let dir: string
  let attacker: Libp2p
  let server: ExchangeServer
  const store = new InMemoryBlockStore()
  let victim: KizunaNode

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kizuna-output-'))
    testnet = await Testnet.start({ size: 1, mode: 'in-process', peerTimeout: 60, config: { replication: false } })
    victim = testnet.members[0].node as KizunaNode
    // the attacker: a bare libp2p peer serving whatever DAGs it made up over our exchange protocol
    attacker = await createBareNode()
    server = new ExchangeServer({ registrar: attacker, blockStore: store })
    await server.start()
    await attacker.dial(multiaddr(victim.addrs()[0]))
  })

  afterAll(async () => {
    await server?.stop()
    await stopAll([attacker])
    await testnet?.stop()
    await rm(dir, { recursive: true, force: true })
  })

  it('refuses one 1 MiB leaf linked 256 times past the output cap, before writing anything', async () => {
    const leaf = await put(store, raw.code, randomBytes(MiB))
    const root = await fan(store, leaf, MiB, 256)
    const out = join(dir, 'bomb.bin')
    const code = await codeOf(collect(victim.get(root.cid.toString(), { output: out, maxOutputBytes: 64 * MiB, providerTimeoutMs: 20_000 })))
    expect(code).toBe('ERR_OUTPUT_TOO_LARGE')
    expect(await readdir(dir)).toEqual([])
  }, 60_000)

  it('refuses a nested bomb (16 TiB from three blocks) with the default cap', async () => {
    const leaf = await put(store, raw.code, randomBytes(MiB))
    const mid = await fan(store, leaf, MiB, 256)
    const upper = await fan(store, mid.cid, mid.size, 256)
    const root = await fan(store, upper.cid, upper.size, 256)
    const out = join(dir, 'nested.bin')
    const code = await codeOf(collect(victim.get(root.cid.toString(), { output: out, providerTimeoutMs: 20_000 })))
    expect(code).toBe('ERR_OUTPUT_TOO_LARGE')
    expect(await readdir(dir)).toEqual([])
  }, 60_000)

  it('never writes through a symlink planted at the partial file name', async () => {
    const data = randomBytes(3 * MiB)
    const leaves = [await put(store, raw.code, data.subarray(0, 2 * MiB)), await put(store, raw.code, data.subarray(2 * MiB))]
    const unixfs = new UnixFS({ type: 'file', blockSizes: [BigInt(2 * MiB), BigInt(MiB)] })
    const root = await put(store, dagPb.code, dagPb.encode(dagPb.prepare({ Data: unixfs.marshal(), Links: leaves.map(Hash => ({ Hash })) })))
    const sub = await mkdtemp(join(dir, 'planted-'))
    const precious = join(sub, 'precious.txt')
    await writeFile(precious, 'keep me')
    const out = join(sub, 'dl.bin')
    await symlink(precious, join(sub, `.dl.bin.kizuna-${root.toString().slice(-12)}.part`))

    await collect(victim.get(root.toString(), { output: out, providerTimeoutMs: 20_000 }))
    expect(await readFile(precious, 'utf8')).toBe('keep me')
    expect(Buffer.compare(await readFile(out), data)).toBe(0)
  }, 60_000)

  it('reports symlink entries it skips', async () => {
    const okBytes = randomBytes(1000)
    const ok = await put(store, raw.code, okBytes)
    const link = await put(store, dagPb.code, dagPb.encode(dagPb.prepare({ Data: new UnixFS({ type: 'symlink', data: new TextEncoder().encode('/etc/passwd') }).marshal() })))
    const root = await put(store, dagPb.code, dagPb.encode(dagPb.prepare({
      Data: new UnixFS({ type: 'directory' }).marshal(),
      Links: [{ Hash: link, Name: 'evil', Tsize: 20 }, { Hash: ok, Name: 'ok.bin', Tsize: 1000 }]
    })))
    const out = join(tmpdir(), `kizuna-tree-${randomBytes(4).toString('hex')}`)
    try {
      const events = await collect(victim.get(root.toString(), { output: out, providerTimeoutMs: 20_000 })) as GetEvent[]
      expect(events).toContainEqual({ type: 'get:skipped', path: 'evil', reason: 'symlink' })
      expect(Buffer.compare(await readFile(join(out, 'ok.bin')), okBytes)).toBe(0)
      expect(await readdir(out)).toEqual(['ok.bin'])
    } finally {
      await rm(out, { recursive: true, force: true })
    }
  }, 60_000)
})
