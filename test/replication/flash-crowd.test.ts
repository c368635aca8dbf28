import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Testnet } from '../../src/testnet/testnet.js'
import { cliJson } from '../helpers/cli-json.js'
import { sha256File, writeRandomFile } from '../helpers/files.js'
import { waitFor } from '../helpers/wait.js'
import type { GetEvent } from '../../src/sharing/events.js'

type GetDone = Extract<GetEvent, { type: 'get:done' }>

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

  it(`${DOWNLOADERS} downloaders start together; the publisher uploads at most 3.5x the file (12x without spreading)`, async () => {
    const [publisher, ...crowd] = testnet.members
    const source = join(dir, 'viral.bin')
    const hash = await writeRandomFile(source, FILE_SIZE)
    const added = await cliJson(publisher, 'add', source)
    const before = (await cliJson(publisher, 'status')).uploadedBytes as number

    // through the API, so the 12 gets start together: 12 CLI processes starting on a loaded
    // 2-core box came seconds apart, and the first ones fetched much before a crowd formed
    const results = await Promise.all(crowd.map(async (member, i) => {
      const output = join(dir, `viral-${i}.out`)
      let got: GetDone | undefined
      for await (const event of member.child!.api.stream<GetEvent>('/get', { target: added.cid, output, timeoutMs: 120_000 })) {
        if (event.type === 'get:done') got = event
      }
      if (got === undefined) throw new Error(`the get on n${member.index} ended without get:done`)
      return { got, ok: await sha256File(output) === hash }
    }))
    expect(results.every(r => r.ok)).toBe(true)

    const after = await cliJson(publisher, 'status')
    const uploaded = after.uploadedBytes - before
    const servedByOthers = results.flatMap(r => r.got.providers).filter(p => p.peerId !== publisher.peerId).reduce((sum, p) => sum + p.bytes, 0)
    const fromPublisher = results.map(r => (r.got.providers.find(p => p.peerId === publisher.peerId)?.bytes ?? 0) / FILE_SIZE)
    console.log(`flash crowd: each get's share from the publisher: ${fromPublisher.map(x => x.toFixed(2)).join(' ')}`)
    console.log(`flash crowd: publisher uploaded ${(uploaded / FILE_SIZE).toFixed(2)}x the file; peers served ${(servedByOthers / FILE_SIZE).toFixed(2)}x; requests referred to the crowd ${after.crowd.referred as number}, blocks sent after a wait ${after.crowd.sentAfterWait as number}`)
    // Each block leaves the publisher once when a crowd of peers proven to serve has formed, and
    // until then everyone fetches from it (docs/design-notes.md, flash crowds). The target
    // (publisher ≤ 2x in the lab) is the crowd benchmark's; this test fails when spreading stops
    // working (12 downloads = 12x) or the window before peers are proven grows back.
    expect(uploaded).toBeLessThanOrEqual(3.5 * FILE_SIZE)

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
