import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Testnet } from '../../src/testnet/testnet.js'
import { cliJson } from '../helpers/cli-json.js'
import { sha256File, writeRandomFile } from '../helpers/files.js'
import { waitFor } from '../helpers/wait.js'

const MiB = 1024 * 1024
/**
 * Floor 5: killing the publisher and 3 of the 11 others at once can take at most 4 holders,
 * so a copy always survives whichever nodes the dice pick.
 */
const FLOOR = 5

describe('replica floor: content outlives its publisher and a third of the swarm', () => {
  let testnet: Testnet
  let dir: string

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kizuna-durable-'))
    testnet = await Testnet.start({ size: 12, mode: 'process', bootstrap: 'random', peerTimeout: 6, onLine: (i, line) => { if (process.env.KIZUNA_TEST_LOG != null && /replica|offer|evicted/.test(line)) console.log(i, line) } })
  })

  afterAll(async () => {
    await testnet?.stop()
    await rm(dir, { recursive: true, force: true })
  })

  it('keeps the floor, survives kill -9 of the publisher + 30%, and restores the count', async () => {
    const [publisher, ...others] = testnet.members
    const source = join(dir, 'keep.bin')
    const hash = await writeRandomFile(source, 6 * MiB + 5)
    const added = await cliJson(publisher, 'add', source, '--replicas', String(FLOOR))

    const holders = await waitFor(async () => {
      const list = await cliJson(publisher, 'replicas', added.cid) as Array<{ peerId: string, kind: string }>
      return list.length >= FLOOR ? list : undefined
    }, { timeoutMs: 150_000, intervalMs: 1000, message: `${FLOOR} live holders` })
    expect(holders.filter(h => h.kind === 'pinned').map(h => h.peerId)).toEqual([publisher.peerId])
    expect(holders.filter(h => h.kind === 'cached').length).toBeGreaterThanOrEqual(FLOOR - 1)

    const victims = [...others].sort(() => Math.random() - 0.5).slice(0, Math.round(others.length * 0.3))
    await Promise.all([publisher, ...victims].map(async m => m.child!.kill()))
    const survivors = others.filter(m => !victims.includes(m))

    const newcomer = await testnet.add({ bootstrap: [survivors[0].addrs[0]] })
    const out = join(dir, 'keep.out')
    await cliJson(newcomer, 'get', added.cid, '-o', out, '--timeout', '60')
    expect(await sha256File(out)).toBe(hash)

    const dead = new Set([publisher, ...victims].map(m => m.peerId))
    const restored = await waitFor(async () => {
      const list = await cliJson(survivors[0], 'replicas', added.cid) as Array<{ peerId: string }>
      const live = list.filter(h => !dead.has(h.peerId))
      return live.length >= FLOOR ? live : undefined
    }, { timeoutMs: 150_000, intervalMs: 1000, message: 'the floor to be restored among survivors' })
    expect(restored.length).toBeGreaterThanOrEqual(FLOOR)
  }, 420_000)
})
