import { join } from 'node:path'
import { LevelDatastore } from 'datastore-level'
import { CID } from 'multiformats/cid'
import { base32 } from 'multiformats/bases/base32'
import { describe, expect, it } from 'vitest'
import type { TestnetMember } from '../../src/testnet/testnet.js'
import { useTestnet } from '../helpers/testnet-fixture.js'
import { Repo } from '../../src/node/repo.js'
import type { ProviderSummary, ReplicaSummary } from '../../src/node/node.js'
import type { AddEvent } from '../../src/sharing/events.js'
import { writeRandomFile } from '../helpers/files.js'
import { waitFor } from '../helpers/wait.js'
import { collect } from '../helpers/collect.js'

const MiB = 1024 * 1024

/** Keys under a prefix in a stopped node's datastore (LevelDB, opened after the daemon let it go) */
async function keysUnder (repo: string, prefix: string): Promise<string[]> {
  const datastore = new LevelDatastore(new Repo(repo).datastorePath)
  await datastore.open()
  try {
    const keys: string[] = []
    for await (const key of datastore.queryKeys({ prefix })) keys.push(key.toString())
    return keys
  } finally {
    await datastore.close()
  }
}

describe('rm: the one path by which content leaves a node', () => {
  const net = useTestnet({ size: 3, mode: 'process', bootstrap: 'first', peerTimeout: 60 }, 'kizuna-rm-')

  it('unpins, forgets the replica floor and stops announcing: peers no longer count or list it', async () => {
    const { testnet, dir } = net
    const [publisher, ...others] = testnet.members
    const api = (m: TestnetMember) => m.child!.api
    const source = join(dir, 'file.bin')
    await writeRandomFile(source, 2 * MiB)
    const added = await collect(api(publisher).stream<AddEvent>('/add', { path: source, replicas: 2 }))
    const cid = (added.find(e => e.type === 'add:done') as { cid: string }).cid
    expect((await api(publisher).get<{ floor: number }>(`/stats/${cid}`)).floor).toBe(2)

    // every node holds a verified copy (the floor recruit and a plain download), so after the rm
    // the two left meet the floor of 2 and nobody hands the publisher a copy back
    const recruit = await waitFor(async () => {
      const holders = await api(publisher).get<ReplicaSummary[]>(`/replicas/${cid}`)
      return others.find(o => holders.some(h => h.peerId === o.peerId && h.verified))
    }, { timeoutMs: 60_000, intervalMs: 500, message: 'the floor recruit' })
    const downloader = others.find(o => o !== recruit)!
    await collect(api(downloader).stream('/get', { target: cid }))
    for (const watcher of others) {
      await waitFor(async () => {
        const holders = await api(watcher).get<ReplicaSummary[]>(`/replicas/${cid}`)
        return testnet.members.every(m => holders.some(h => h.peerId === m.peerId && h.verified))
      }, { timeoutMs: 60_000, intervalMs: 500, message: `n${watcher.index} to count all three holders` })
    }

    const removed = await api(publisher).post<{ cid: string, freedBytes: number }>('/rm', { cid })
    expect(removed.freedBytes).toBeGreaterThanOrEqual(2 * MiB)

    // it answers "don't have": not listed by itself, nor by a peer that asks it directly
    expect((await api(publisher).get<ProviderSummary[]>(`/providers/${cid}`)).map(p => p.peerId)).not.toContain(publisher.peerId)
    await waitFor(async () => {
      const providers = await api(downloader).get<ProviderSummary[]>(`/providers/${cid}`)
      return providers.some(p => p.peerId === recruit.peerId) && !providers.some(p => p.peerId === publisher.peerId)
    }, { timeoutMs: 30_000, intervalMs: 500, message: 'providers without the publisher' })
    // no longer counted as a holder (its DHT record, stored elsewhere, is still found and asked)
    await waitFor(async () => {
      const holders = await api(downloader).get<ReplicaSummary[]>(`/replicas/${cid}`)
      return holders.some(h => h.peerId === recruit.peerId) && !holders.some(h => h.peerId === publisher.peerId)
    }, { timeoutMs: 30_000, intervalMs: 500, message: 'replicas without the publisher' })
    const stats = await api(publisher).get<{ floor: number, role: string | null }>(`/stats/${cid}`)
    expect(stats).toMatchObject({ floor: 0, role: null })

    // on disk: the floor record is gone, and so is our own provider record, the list kad-dht's
    // reprovider walks to re-announce (the other holders' records stay: a prefix that matches)
    await testnet.stopMember(publisher)
    expect(await keysUnder(publisher.repo, `/kizuna/replication/${cid}`)).toEqual([])
    const mh = base32.baseEncode(CID.parse(cid).multihash.bytes)
    const providerKeys = await keysUnder(publisher.repo, `/dht/provider/${mh}`)
    expect(providerKeys.some(k => k.endsWith(`/${recruit.peerId}`) || k.endsWith(`/${downloader.peerId}`))).toBe(true)
    expect(providerKeys.filter(k => k.endsWith(`/${publisher.peerId}`))).toEqual([])
  }, 180_000)
})
