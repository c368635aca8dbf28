import { randomBytes } from 'node:crypto'
import { mkdtemp, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Testnet } from '../../../src/testnet/testnet.js'
import { PenaltyBox } from '../../../src/sharing/penalties.js'
import { verifyBlock } from '../../../src/content/blocks/verify.js'
import { writeRandomFile } from '../../helpers/files.js'
import { waitFor } from '../../helpers/wait.js'
import { collect } from '../../helpers/collect.js'
import type { KizunaNode } from '../../../src/node/node.js'
import { internalsOf } from '../../../src/node/internals.js'

const MiB = 1024 * 1024

async function addFile (node: KizunaNode, path: string): Promise<CID> {
  const events = await collect(node.add(path))
  return CID.parse((events.find(e => e.type === 'add:done') as { cid: string }).cid)
}

/** A block stored with no kept root needing it: what a kill -9 during add or get leaves */
async function orphan (node: KizunaNode, ageMs: number): Promise<CID> {
  const bytes = randomBytes(64 * 1024)
  const cid = CID.createV1(raw.code, await sha256.digest(bytes))
  await internalsOf(node).blocks.put(cid, bytes)
  const then = (Date.now() - ageMs) / 1000
  await utimes(internalsOf(node).blocks.filePath(cid), then, then)
  return cid
}

describe('self-healing storage, garbage collection and identity CIDs', () => {
  let testnet: Testnet
  let dir: string

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kizuna-health-'))
    testnet = await Testnet.start({ size: 2, mode: 'in-process', bootstrap: 'first', peerTimeout: 60, config: { replication: false } })
  })

  afterAll(async () => {
    await testnet?.stop()
    await rm(dir, { recursive: true, force: true })
  })

  it('a rotten block is answered DONT_HAVE, deleted and re-fetched for its pinned root; the honest server is not penalised', async () => {
    const [a, b] = testnet.members.map(m => m.node as KizunaNode)
    const source = join(dir, 'rot.bin')
    await writeRandomFile(source, 3 * MiB)
    const cid = await addFile(a, source)
    await collect(internalsOf(b).sharing.get(cid.toString(), { pin: true }))
    const leaf = (await internalsOf(b).content.blockRefs(cid))!.map(r => r.cid).find(c => c.code === raw.code)!
    const file = internalsOf(b).blocks.filePath(leaf)
    const bytes = await readFile(file)
    bytes[bytes.length >> 1] ^= 0x01
    await writeFile(file, bytes)
    // as the stat shows any rewrite once the clock ticked (rot that leaves the stat alone waits for VERIFIED_FOR_MS)
    await utimes(file, new Date(Date.now() + 1000), new Date(Date.now() + 1000))

    // a peer asks B for the rotten leaf: B must not send bytes that fail their hash
    const answer = await internalsOf(a).sharing.client.want(b.peerId, leaf)
    expect(answer.type).toBe('dont-have')
    expect(internalsOf(a).sharing.penalties.isPenalised(b.peerId.toString())).toBe(false)
    expect(internalsOf(a).sharing.penalties.strikesOf(b.peerId.toString())).toBe(0)

    // B fetched the block again (from A) for its pinned root, and it verifies
    const healed = await waitFor(async () => {
      const got = await internalsOf(b).blocks.get(leaf).catch(() => undefined)
      return got
    }, { timeoutMs: 30_000, intervalMs: 200, message: 'the rotten leaf re-fetched' })
    expect(() => { verifyBlock(leaf, healed) }).not.toThrow()
    expect(await internalsOf(b).content.hasAll(cid)).toBe(true)
    // and it serves it again
    expect((await internalsOf(a).sharing.client.want(b.peerId, leaf)).type).toBe('block')
  }, 90_000)

  it('a downloaded file rewritten in place is caught when served, after its unchanged stat vouched for it; the leaf is re-fetched', async () => {
    const [a, b] = testnet.members.map(m => m.node as KizunaNode)
    const source = join(dir, 'edited.bin')
    await writeRandomFile(source, 3 * MiB)
    const cid = await addFile(a, source)
    const output = join(dir, 'edited.out')
    await collect(internalsOf(b).sharing.get(cid.toString(), { output, pin: true }))
    const blocks = internalsOf(b).blocks
    const leaf = (await internalsOf(b).content.blockRefs(cid))!.map(r => r.cid).find(c => c.code === raw.code)!
    const reference = await blocks.reference(leaf)
    expect(reference?.path).toBe(output)

    // B serves the leaf from the user's file, hashing it until the file is old enough for its stat to vouch
    await waitFor(async () => {
      const vouched = blocks.readVerification.vouchedByStat
      expect((await internalsOf(a).sharing.client.want(b.peerId, leaf)).type).toBe('block')
      return blocks.readVerification.vouchedByStat > vouched
    }, { timeoutMs: 20_000, intervalMs: 250, message: 'a serve vouched for by the unchanged stat' })

    // the user rewrites the file in place: same size, other bytes in that leaf, a new mtime
    const bytes = await readFile(output)
    bytes[reference!.offset + 100] ^= 0x01
    await writeFile(output, bytes)
    await utimes(output, new Date(Date.now() + 1000), new Date(Date.now() + 1000))
    expect((await internalsOf(a).sharing.client.want(b.peerId, leaf)).type).toBe('dont-have')
    expect(internalsOf(a).sharing.penalties.strikesOf(b.peerId.toString())).toBe(0)
    expect(await blocks.reference(leaf)).toBeUndefined()

    // the pinned root needs it: B fetches it again from A, and serves it
    const healed = await waitFor(async () => await blocks.get(leaf).catch(() => undefined), { timeoutMs: 30_000, intervalMs: 200, message: 'the edited leaf re-fetched' })
    expect(() => { verifyBlock(leaf, healed) }).not.toThrow()
    expect((await internalsOf(a).sharing.client.want(b.peerId, leaf)).type).toBe('block')
  }, 90_000)

  it('one bad block is a strike, not a penalty; a peer that keeps sending them is penalised', () => {
    const box = new PenaltyBox(60_000, 3)
    expect(box.strike('p', 'bad-block')).toBe(false)
    expect(box.isPenalised('p')).toBe(false)
    expect(box.strike('p', 'bad-block')).toBe(false)
    expect(box.strike('p', 'bad-block')).toBe(true)
    expect(box.isPenalised('p')).toBe(true)
    expect(box.isPenalised('other')).toBe(false)
  })

  it('gc deletes orphaned blocks, keeps kept content and young blocks; node start collects old orphans', async () => {
    const member = testnet.members[0]
    const a = member.node as KizunaNode
    const source = join(dir, 'kept.bin')
    await writeRandomFile(source, 2 * MiB)
    const kept = await addFile(a, source)
    const old = await orphan(a, 2 * 60_000)
    const young = await orphan(a, 0)

    const result = await a.gc()
    expect(result.freedBlocks).toBeGreaterThanOrEqual(1)
    expect(await internalsOf(a).blocks.has(old)).toBe(false)
    expect(await internalsOf(a).blocks.has(young)).toBe(true)
    expect(await internalsOf(a).content.hasAll(kept)).toBe(true)

    // a crash leaves orphans; the next start collects those older than the start grace time
    const ancient = await orphan(a, 2 * 60 * 60_000)
    await a.gc({ graceMs: 0 }).then(() => {}) // young one goes too when asked with no grace
    expect(await internalsOf(a).blocks.has(young)).toBe(false)
    const restarted = await testnet.restart(member)
    const node = restarted.node as KizunaNode
    await waitFor(async () => !await internalsOf(node).blocks.has(ancient), { timeoutMs: 20_000, message: 'old orphan collected at start' })
    expect(await internalsOf(node).content.hasAll(kept)).toBe(true)
  }, 90_000)

  it('get of the identity CID (the empty file) works', async () => {
    const node = testnet.members[1].node as KizunaNode
    const out = join(dir, 'empty.out')
    const events = await collect(internalsOf(node).sharing.get('bafkqaaa', { output: out }))
    expect(events[events.length - 1]).toMatchObject({ type: 'get:done', size: 0 })
    expect((await stat(out)).size).toBe(0)
  }, 30_000)
})
