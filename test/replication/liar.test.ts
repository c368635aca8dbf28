import { rm } from 'node:fs/promises'
import { join } from 'node:path'
import { CID } from 'multiformats/cid'
import { describe, expect, it } from 'vitest'
import { REPLICATE_PROTOCOL } from '../../src/replication/codec.js'
import { handleReplicationStreams } from '../../src/replication/protocol.js'
import { writeRandomFile } from '../helpers/files.js'
import { waitFor } from '../helpers/wait.js'
import type { KizunaNode } from '../../src/node/node.js'
import { collect } from '../helpers/collect.js'
import { internalsOf } from '../../src/node/internals.js'
import { useTestnet } from '../helpers/testnet-fixture.js'

/** Whether the node's sharing service has penalised the peer (no node method: an internal fact) */
function isPenalised (node: KizunaNode, peerId: string): boolean {
  return internalsOf(node).sharing.penalties.isPenalised(peerId)
}

const MiB = 1024 * 1024

describe('a holder that lies about holding content is found out and not counted', () => {
  const net = useTestnet({ size: 3, mode: 'in-process', bootstrap: 'first', peerTimeout: 60 }, 'kizuna-liar-')

  it('a claimed full copy without the bytes fails the possession proof; honest holders pass', async () => {
    const { testnet, dir } = net
    const [publisher, liar, honest] = testnet.members.map(m => m.node as KizunaNode)
    const source = join(dir, 'claimed.bin')
    await writeRandomFile(source, 3 * MiB)
    const added = await collect(publisher.add(source, { replicas: 1 }))
    const cid = CID.parse((added.find(e => e.type === 'add:done') as { cid: string }).cid)

    // the liar fetched the file (so the DHT lists it as a provider), then threw the blocks away
    // and keeps answering every holder query "full, cached" with a made-up proof
    await collect(liar.get(cid.toString(), { output: join(dir, 'liar.out') }))
    await liar.remove(cid)
    expect((await liar.list()).map(r => r.cid)).not.toContain(cid.toString())
    // a hostile peer needs the wire: its replication handler is replaced by a lying one
    const liarWire = internalsOf(liar).libp2p
    await liarWire.unhandle(REPLICATE_PROTOCOL)
    await handleReplicationStreams(liarWire, async message => message.type === 'holder-query'
      ? { type: 'holder-reply', has: 'full', kind: 'cached', proof: 'ab'.repeat(32) }
      : { type: 'offer-reply', accepted: false, reason: 'liar' })

    await collect(honest.get(cid.toString(), { output: join(dir, 'honest.out') }))

    const holders = await waitFor(async () => {
      const list = await publisher.replicas(cid)
      expect(list.map(h => h.peerId)).not.toContain(liar.peerId.toString())
      const liarCaught = isPenalised(publisher, liar.peerId.toString())
      return liarCaught && list.some(h => h.peerId === honest.peerId.toString()) ? list : undefined
    }, { timeoutMs: 60_000, intervalMs: 500, message: 'the honest holder listed and the liar caught' })
    expect(holders.map(h => h.peerId)).not.toContain(liar.peerId.toString())
    expect(holders.find(h => h.peerId === honest.peerId.toString())?.verified).toBe(true)
    expect(isPenalised(publisher, liar.peerId.toString())).toBe(true)
  }, 120_000)

  it('a holder whose downloaded file was deleted is not counted, and not taken for a liar', async () => {
    const { testnet, dir } = net
    const publisher = testnet.members[0].node as KizunaNode
    const forgetful = (await testnet.add({ bootstrap: [testnet.members[0].addrs[0]] })).node as KizunaNode
    const source = join(dir, 'forgotten.bin')
    await writeRandomFile(source, 3 * MiB)
    const added = await collect(publisher.add(source, { replicas: 1 }))
    const cid = CID.parse((added.find(e => e.type === 'add:done') as { cid: string }).cid)

    // `get -o` keeps the leaves by reference into the output; the user then deletes the file
    const out = join(dir, 'forgotten.out')
    await collect(forgetful.get(cid.toString(), { output: out }))
    expect((await forgetful.list()).map(r => r.cid)).toContain(cid.toString())
    await waitFor(async () => (await publisher.replicas(cid)).some(h => h.peerId === forgetful.peerId.toString() && h.verified),
      { timeoutMs: 60_000, intervalMs: 500, message: 'the downloader counted as a holder while its file exists' })
    const haveOf = async (): Promise<string> => (await internalsOf(publisher).sharing.client.queryHave(forgetful.peerId, cid, { signal: AbortSignal.timeout(10_000) })).has
    expect(await haveOf()).toBe('full')
    await rm(out)

    // a HAVE query no longer hears "full" (the answer is memoised for up to a second)
    await waitFor(async () => await haveOf() !== 'full' ? true : undefined, { timeoutMs: 20_000, intervalMs: 250, message: 'HAVE to stop answering full' })

    await waitFor(async () => {
      const holders = await publisher.replicas(cid)
      // found through the DHT (it announced itself), asked, and left out
      return holders.length === 1 && holders[0].peerId === publisher.peerId.toString() ? holders : undefined
    }, { timeoutMs: 30_000, intervalMs: 500, message: 'the publisher alone counted' })
    expect(isPenalised(publisher, forgetful.peerId.toString())).toBe(false)
  }, 150_000)
})
