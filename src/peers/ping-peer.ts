import { ping } from '@libp2p/ping'
import { KIZUNA_PROTOCOL_PREFIX, type KizunaLibp2p } from '../libp2p/types.js'
import { reusableConnection } from '../libp2p/reusable-connection.js'
import type { PeerId } from '@libp2p/interface'

type PingComponents = Parameters<ReturnType<typeof ping>>[0]

export type PingNetwork = Pick<KizunaLibp2p, 'services' | 'getConnections'>

/**
 * Pings a peer, over the connection we have when all we have is limited (relayed).
 *
 * libp2p's `ping(peerId)` opens its stream through `connectionManager.openConnection`, which
 * reuses only unlimited connections (`findExistingConnection` filters `limits == null`: js-libp2p
 * #2187 lets a dial proceed so that a direct connection can replace a relayed one). For a peer
 * reachable only through a relay that dial opens another circuit through the same relay;
 * concurrent callers join that one dial job, the first to return aborts the new circuit as a
 * "Duplicate multiaddr connection" (same remote address as the circuit we have) and every other
 * caller gets `ConnectionClosedError: Remote closed connection during opening`. Measured: 6
 * concurrent pings to a relay-only peer, 5 failed that way (docs/nat.md). Each ping also cost
 * the relay a circuit setup and a Noise handshake.
 *
 * Here the same library ping runs with a connection manager that opens its stream on our
 * limited connection: no new circuit, nothing to collide with.
 */
export async function pingPeer (network: PingNetwork, peerId: PeerId, signal: AbortSignal): Promise<number> {
  const reuse = reusableConnection(network.getConnections(peerId))
  // limited only when no unlimited connection is open
  const relayed = reuse?.limits != null ? reuse : undefined
  if (relayed == null) return await network.services.ping.ping(peerId, { signal })
  const connectionManager = {
    openStream: async (_peer: unknown, protocol: string, options: object) => await relayed.newStream(protocol, { ...options, runOnLimitedConnection: true })
  } as unknown as PingComponents['connectionManager']
  // never started: it only dials (the node's own ping service answers), so it needs no registrar
  const overRelay = ping({ protocolPrefix: KIZUNA_PROTOCOL_PREFIX })({ connectionManager, registrar: undefined as unknown as PingComponents['registrar'] })
  return await overRelay.ping(peerId, { signal })
}
