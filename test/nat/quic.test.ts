import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { internalsOf } from '../../src/node/internals.js'
import { createNode } from '../../src/node/create-node.js'
import type { KizunaNode } from '../../src/node/node.js'
import { Repo } from '../../src/node/repo.js'
import { quicListenAddrs } from '../../src/node/libp2p.js'

describe('QUIC beside TCP (@chainsafe/libp2p-quic on Node 20)', () => {
  const nodes: KizunaNode[] = []
  let dir = ''

  afterAll(async () => {
    await Promise.allSettled(nodes.map(async n => { await n.stop() }))
    if (dir !== '') await rm(dir, { recursive: true, force: true })
  })

  it('every TCP listen address gets a QUIC twin', () => {
    expect(quicListenAddrs(['/ip4/0.0.0.0/tcp/4010', '/ip6/::/tcp/0', '/p2p-circuit'])).toEqual(['/ip4/0.0.0.0/udp/4010/quic-v1', '/ip6/::/udp/0/quic-v1'])
  })

  it('two nodes connect and ping over QUIC', async () => {
    dir = await mkdtemp(join(tmpdir(), 'kizuna-quic-'))
    for (const name of ['x', 'y']) {
      await new Repo(join(dir, name)).init({ listen: ['/ip4/127.0.0.1/tcp/0'], api: '127.0.0.1:0', mdns: false, replication: false })
      const node = await createNode({ repo: join(dir, name) })
      await node.start()
      nodes.push(node)
    }
    const quicAddr = nodes[1].addrs().find(a => a.includes('/quic-v1'))
    expect(quicAddr).toBeDefined()
    const { rttMs } = await nodes[0].connect(quicAddr!)
    expect(rttMs).toBeGreaterThanOrEqual(0)
    const connection = internalsOf(nodes[0]).libp2p.getConnections(nodes[1].peerId)[0]
    expect(connection.remoteAddr.toString()).toContain('/quic-v1')
    expect(connection.limits).toBeUndefined()
  })
})
