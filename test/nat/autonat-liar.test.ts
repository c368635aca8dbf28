import '../../src/shim.js'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { identify } from '@libp2p/identify'
import { noise } from '@libp2p/noise'
import { tcp } from '@libp2p/tcp'
import { lpStream } from '@libp2p/utils'
import { yamux } from '@libp2p/yamux'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p, type Libp2p } from 'libp2p'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { internalsOf } from '../../src/node/internals.js'
import { createNode } from '../../src/node/create-node.js'
import type { KizunaNode } from '../../src/node/node.js'
import { Repo } from '../../src/node/repo.js'
import { DEFAULT_CONFIG } from '../../src/node/config.js'
import { KIZUNA_PROTOCOL_PREFIX } from '../../src/libp2p/types.js'
import { waitFor } from '../helpers/wait.js'

/** AutoNAT v2 dial-request protocol under our prefix */
const DIAL_REQUEST = `/${KIZUNA_PROTOCOL_PREFIX}/autonat/2/dial-request`
/**
 * Message { dialResponse: { status: OK (200), addrIdx: 0, dialStatus: OK (200) } }: "I dialled
 * you and it worked", sent without dialling back
 */
const LIE = Uint8Array.of(0x12, 0x08, 0x08, 0xc8, 0x01, 0x10, 0x00, 0x18, 0xc8, 0x01)
/**
 * The "public" address the liar confirms: in 3fff::/20, IPv6's documentation prefix (RFC 9637,
 * never routed), which libp2p does not class private. Nobody dials it: the liar only says it did.
 */
const MAPPED_IP = '3fff::1'

/**
 * A peer that lies to our AutoNAT client. js-libp2p's client takes "OK" without checking that
 * the dial-back with its nonce arrived; Kizuna counts a confirmation only after a public peer
 * really dialled us (src/nat/policy.ts hasInboundEvidence).
 */
describe('AutoNAT peers lying about our reachability', () => {
  let dir: string
  let node: KizunaNode | undefined
  let liar: Libp2p | undefined

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kizuna-autonat-liar-'))
  })

  afterAll(async () => {
    await liar?.stop()
    await node?.stop()
    await rm(dir, { recursive: true, force: true })
  })

  it('an address "confirmed" by a liar, with no dial-back, does not make us public', async () => {
    const repo = join(dir, 'node')
    await new Repo(repo).init({
      listen: ['/ip4/127.0.0.1/tcp/0'],
      api: '127.0.0.1:0',
      mdns: false,
      replication: false,
      nat: { ...DEFAULT_CONFIG.nat, reachability: 'auto', upnp: false, quic: false }
    })
    node = await createNode({ repo, overrides: { bootstrap: [] } })
    await node.start()
    const own = node.addrs().find(a => a.includes('/tcp/'))!
    const port = Number(multiaddr(own).getComponents().find(c => c.name === 'tcp')!.value)
    // a port mapping as UPnP would add one: unverified until AutoNAT says otherwise
    const addressManager = internalsOf(node).libp2p.services.natComponents.addressManager
    addressManager.addPublicAddressMapping('127.0.0.1', port, MAPPED_IP, port, 'tcp')
    const mapped = (): { verified: boolean } | undefined => addressManager.getAddressesWithMetadata().find(a => a.multiaddr.toString().includes(MAPPED_IP))
    expect(mapped()?.verified).toBe(false)

    let asked = 0
    liar = await createLibp2p({
      // an IPv6 address in its identify record: our client sends IPv6 addresses only to such peers
      addresses: { listen: ['/ip4/127.0.0.1/tcp/0', '/ip6/::1/tcp/0'] },
      transports: [tcp()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      services: { identify: identify({ protocolPrefix: KIZUNA_PROTOCOL_PREFIX }) }
    })
    await liar.handle(DIAL_REQUEST, async (stream) => {
      const lp = lpStream(stream)
      await lp.read()
      asked++
      await lp.write(LIE)
      await stream.close()
    })
    await liar.dial(multiaddr(own.includes('/p2p/') ? own : `${own}/p2p/${node.peerId.toString()}`))

    // libp2p believed the lie...
    await waitFor(() => asked > 0 && mapped()?.verified === true, { timeoutMs: 20_000, message: 'the liar asked and libp2p marking the mapping verified' })
    // ...Kizuna does not: no public address, not public, no relay service for others
    const status = node.status().nat
    expect(status.publicAddrs).toEqual([])
    expect(status.reachability).not.toBe('public')
    expect(status.relayServer.enabled).toBe(false)
  }, 40_000)
})
