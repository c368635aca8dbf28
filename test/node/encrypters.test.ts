import { createLibp2p, type Libp2p, type Libp2pOptions } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { noise } from '@libp2p/noise'
import { yamux } from '@libp2p/yamux'
import { afterEach, describe, expect, it } from 'vitest'
import { connectionEncrypters } from '../../src/node/libp2p.js'

async function node (encrypters: Libp2pOptions['connectionEncrypters']): Promise<Libp2p> {
  return await createLibp2p({
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionEncrypters: encrypters,
    streamMuxers: [yamux()],
    connectionMonitor: { enabled: false }
  })
}

describe('connectionEncrypters', () => {
  const nodes: Libp2p[] = []
  afterEach(async () => { await Promise.all(nodes.splice(0).map(async n => { await n.stop() })) })

  it('two Kizuna nodes speak TLS', async () => {
    const [a, b] = await Promise.all([node(connectionEncrypters()), node(connectionEncrypters())])
    nodes.push(a, b)
    const connection = await a.dial(b.getMultiaddrs()[0], { signal: AbortSignal.timeout(30_000) })
    expect(connection.encryption).toBe('/tls/1.0.0')
  })

  it('a Kizuna node and a Noise-only node connect either way round, over Noise', async () => {
    const [kizuna, old] = await Promise.all([node(connectionEncrypters()), node([noise()])])
    nodes.push(kizuna, old)
    const out = await kizuna.dial(old.getMultiaddrs()[0], { signal: AbortSignal.timeout(30_000) })
    expect(out.encryption).toBe('/noise')
    await out.close()
    const back = await old.dial(kizuna.getMultiaddrs()[0], { signal: AbortSignal.timeout(30_000) })
    expect(back.encryption).toBe('/noise')
  })
})
