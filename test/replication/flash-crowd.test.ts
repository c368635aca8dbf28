import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Testnet } from '../../src/testnet/testnet.js'
import { cliJson } from '../helpers/cli-json.js'
import { sha256File, writeRandomFile } from '../helpers/files.js'
import { waitFor } from '../helpers/wait.js'

const MiB = 1024 * 1024
const FILE_SIZE = 32 * MiB
const DOWNLOADERS = 12

describe('flash crowd: a popular file does not overload its publisher', () => {
  let testnet: Testnet
  let dir: string
  /** `counted holders of CID (demand|floor)` lines the daemons logged, by member index */
  const counts: Array<{ index: number, line: string }> = []

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kizuna-crowd-'))
    testnet = await Testnet.start({
      size: 1 + DOWNLOADERS,
      mode: 'process',
      bootstrap: 'random',
      peerTimeout: 60,
      config: { replicationInterval: 1 },
      onLine: (index, line) => { if (line.includes('counted holders of')) counts.push({ index, line }) }
    })
  })

  afterAll(async () => {
    await testnet?.stop()
    await rm(dir, { recursive: true, force: true })
  })

  it(`${DOWNLOADERS} downloaders start together; the publisher uploads at most 3x the file`, async () => {
    const [publisher, ...crowd] = testnet.members
    const source = join(dir, 'viral.bin')
    const hash = await writeRandomFile(source, FILE_SIZE)
    const added = await cliJson(publisher, 'add', source)
    const before = (await cliJson(publisher, 'status')).uploadedBytes as number

    const results = await Promise.all(crowd.map(async (member, i) => {
      const out = join(dir, `viral-${i}.out`)
      const got = await cliJson(member, 'get', added.cid, '-o', out, '--timeout', '120')
      return { got, ok: await sha256File(out) === hash }
    }))
    expect(results.every(r => r.ok)).toBe(true)

    const after = await cliJson(publisher, 'status')
    const uploaded = after.uploadedBytes - before
    const servedByOthers = results.flatMap(r => r.got.providers as Array<{ peerId: string, bytes: number }>).filter(p => p.peerId !== publisher.peerId).reduce((sum, p) => sum + p.bytes, 0)
    console.log(`flash crowd: publisher uploaded ${(uploaded / FILE_SIZE).toFixed(2)}x the file; peers served ${(servedByOthers / FILE_SIZE).toFixed(2)}x; requests referred to the crowd ${after.crowd.referred as number}, blocks sent after a wait ${after.crowd.sentAfterWait as number}`)
    expect(uploaded).toBeLessThanOrEqual(3 * FILE_SIZE)

    // The downloaders' fresh copies are the replicas the demand made: they serve the crowd (so
    // they see demand too) but leave counting holders, a DHT walk plus a proof from every holder,
    // to the copies that were there before. Watched until the publisher counts again (demand
    // still high) or, if its demand has faded by then, for 15 replication rounds (1 s each).
    const isCrowdCount = (c: { index: number, line: string }): boolean => c.index !== publisher.index && c.line.includes(`${added.cid as string} (demand)`)
    const seen = counts.length
    const watchUntil = Date.now() + 15_000
    await waitFor(() => counts.slice(seen).some(c => c.index === publisher.index) || counts.some(isCrowdCount) || Date.now() >= watchUntil, { timeoutMs: 60_000, intervalMs: 250, message: 'the publisher to count holders again' })
    const crowdCounts = counts.filter(isCrowdCount)
    expect(crowdCounts).toEqual([])
  }, 300_000)
})
