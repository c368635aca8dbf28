import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { register } from 'prom-client'
import { createNode } from '../../src/node/create-node.js'
import { Repo } from '../../src/node/repo.js'

describe('a node\'s metrics registry', () => {
  it('is the node\'s own: two library nodes in one process leave prom-client\'s global registry alone', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'kizuna-registry-'))
    const config = { listen: ['/ip4/127.0.0.1/tcp/0'], api: '127.0.0.1:0', mdns: false }
    try {
      const nodes = await Promise.all(['a', 'b'].map(async name => {
        await new Repo(join(dir, name)).init(config)
        return await createNode({ repo: join(dir, name) })
      }))
      for (const node of nodes) await node.start()
      try {
        const [a, b] = await Promise.all(nodes.map(async node => (await node.metrics()).text))
        expect(a).toContain('kizuna_content_bytes_total')
        expect(b).toContain('kizuna_peers')
        // no process or libp2p metrics unless the daemon asks (they are process-wide)
        expect(a).not.toContain('process_cpu_user_seconds_total')
        expect(register.getMetricsAsArray()).toEqual([])
      } finally {
        for (const node of nodes) await node.stop()
      }
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})
