import { join } from 'node:path'
import { CID } from 'multiformats/cid'
import { describe, expect, it } from 'vitest'
import { findHolders } from '../../src/replication/holders.js'
import { internalsOf } from '../../src/node/internals.js'
import { writeRandomFile } from '../helpers/files.js'
import { waitFor } from '../helpers/wait.js'
import { collect } from '../helpers/collect.js'
import { useTestnet } from '../helpers/testnet-fixture.js'
import type { KizunaNode } from '../../src/node/node.js'

describe('counting holders', () => {
  const net = useTestnet({ size: 4, mode: 'in-process', bootstrap: 'first', peerTimeout: 60 }, 'kizuna-holders-')

  it('stops at `enough` verified holders, and finds every holder without it', async () => {
    const { testnet, dir } = net
    const [publisher, ...others] = testnet.members.map(m => m.node as KizunaNode)
    const source = join(dir, 'file.bin')
    await writeRandomFile(source, 2 * 1024 * 1024 + 5)
    const added = await collect(publisher.add(source, { replicas: 1 }))
    const cid = CID.parse((added.find(e => e.type === 'add:done') as { cid: string }).cid)
    for (const [i, node] of others.entries()) await collect(node.get(cid.toString(), { output: join(dir, `out-${i}`) }))
    const { libp2p, sharing, content } = internalsOf(publisher)
    const count = async (enough?: number): Promise<number> =>
      (await findHolders(cid, { libp2p, sharing, content }, { kind: 'pinned' }, { signal: AbortSignal.timeout(30_000), enough })).filter(h => h.verified).length

    // every downloader announced itself: the full count sees all four (ourselves included)
    await waitFor(async () => await count() === 4, { timeoutMs: 60_000, intervalMs: 500, message: 'all four holders counted' })
    expect(await count(2)).toBe(2)
  }, 120_000)
})
