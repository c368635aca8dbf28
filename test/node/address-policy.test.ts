import { describe, expect, it } from 'vitest'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import type { Connection, PeerId } from '@libp2p/interface'
import { AddressPolicy, type DhtRpc } from '../../src/node/address-policy.js'

const peer = async (): Promise<PeerId> => peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
const wire = (id: PeerId, ...addrs: string[]): { id: Uint8Array, multiaddrs: Uint8Array[] } => ({ id: id.toMultihash().bytes, multiaddrs: addrs.map(a => multiaddr(a).bytes) })
const text = (peers: Array<{ multiaddrs: Uint8Array[] }> | undefined): string[][] => (peers ?? []).map(p => p.multiaddrs.map(b => multiaddr(b).toString()))

/** A policy whose host sees `asker` at `askerAddr`, and a DHT RPC that answers `answer` to anyone */
function setUp (asker: PeerId, askerAddr: string | undefined, answer: unknown): DhtRpc {
  const policy = new AddressPolicy()
  policy.attach({
    getConnections: (id?: PeerId) => askerAddr != null && id?.equals(asker) === true ? [{ remoteAddr: multiaddr(askerAddr) } as unknown as Connection] : [],
    getMultiaddrs: (): Multiaddr[] => [multiaddr('/ip4/10.77.0.2/tcp/4001')]
  })
  const rpc: DhtRpc = { handleMessage: async () => answer as any }
  policy.filterDhtAnswers(rpc)
  return rpc
}

describe('DHT answers filtered for their asker', () => {
  it('drops loopback addresses for a remote asker, and peers left with no address', async () => {
    const [asker, a, b] = await Promise.all([peer(), peer(), peer()])
    const answer = {
      closer: [wire(a, '/ip4/127.0.0.1/tcp/1', '/ip4/203.0.113.7/tcp/1'), wire(b, '/ip4/127.0.0.1/tcp/2')],
      providers: [wire(b, '/ip4/127.0.0.1/tcp/2')]
    }
    const rpc = setUp(asker, '/ip4/203.0.113.50/tcp/5555', answer)
    const filtered = await rpc.handleMessage(asker, {})
    expect(text(filtered?.closer)).toEqual([['/ip4/203.0.113.7/tcp/1']])
    expect(filtered?.providers).toEqual([])
  })

  it('hands everything to an asker on our own host, and to one we have no connection to', async () => {
    const [asker, stranger, a] = await Promise.all([peer(), peer(), peer()])
    const answer = { closer: [wire(a, '/ip4/127.0.0.1/tcp/1', '/ip4/203.0.113.7/tcp/1')] }
    const rpc = setUp(asker, '/ip4/127.0.0.1/tcp/5555', answer)
    expect(text((await rpc.handleMessage(asker, {}))?.closer)).toEqual([['/ip4/127.0.0.1/tcp/1', '/ip4/203.0.113.7/tcp/1']])
    expect(text((await rpc.handleMessage(stranger, {}))?.closer)).toEqual([['/ip4/127.0.0.1/tcp/1', '/ip4/203.0.113.7/tcp/1']])
  })

  it('passes answers without peers through', async () => {
    const asker = await peer()
    const rpc = setUp(asker, '/ip4/203.0.113.50/tcp/5555', undefined)
    expect(await rpc.handleMessage(asker, {})).toBeUndefined()
  })
})
