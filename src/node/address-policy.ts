import { networkInterfaces } from 'node:os'
import { BlockList } from 'node:net'
import type { Connection, PeerId } from '@libp2p/interface'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { announceable, ipOf, isLoopbackIp, keepLearned, rangeTest, shareWith, type LocalScope } from './address-scope.js'

/** Our interface subnets are re-read at most this often (interfaces rarely change) */
export const INTERFACE_SCOPE_TTL_MS = 10_000

/** A peer as a kad-dht answer carries it (ids and addresses as bytes) */
interface WirePeer { id: Uint8Array, multiaddrs: Uint8Array[] }
interface DhtAnswer { closer?: WirePeer[], providers?: WirePeer[] }
/** The part of kad-dht's RPC (an internal object) the filter wraps: every inbound request goes through it */
export interface DhtRpc {
  handleMessage: (peerId: PeerId, message: any) => Promise<DhtAnswer | undefined>
}

interface AddressHost {
  getConnections: (peerId?: PeerId) => Connection[]
  getMultiaddrs: () => Multiaddr[]
}

/**
 * Applies the rules of address-scope.ts to libp2p: the announce filter, the peer store's
 * address filter (connection gater), and the DHT's answers, which are filtered for the peer
 * that asked (seen at the IPs of its connections to us).
 */
export class AddressPolicy {
  private host?: AddressHost
  private subnets?: { onLink: (ip: string) => boolean, readAt: number }

  /** Called once libp2p exists; until then every address passes */
  attach (host: AddressHost): void {
    this.host = host
  }

  readonly announceFilter = (addrs: Multiaddr[]): Multiaddr[] => announceable(addrs)

  /** connectionGater.filterMultiaddrForPeer: the peer store keeps only what we can dial */
  readonly filterMultiaddrForPeer = async (peerId: PeerId, ma: Multiaddr): Promise<boolean> => this.keep(peerId, ma)

  keep (peerId: PeerId, ma: Multiaddr): boolean {
    if (this.host == null) return true
    return keepLearned(ma, this.seenAt(peerId), this.scope())
  }

  /**
   * Filters every answer of kad-dht's RPC for its asker. Not kad-dht's peerInfoMapper: that sees
   * no asker, and carrying it there took an AsyncLocalStorage, which in Node 20 hooks every
   * promise of the process (an await cost several times more, on the data path too).
   */
  filterDhtAnswers (rpc: DhtRpc): void {
    const handle = rpc.handleMessage.bind(rpc)
    rpc.handleMessage = async (peerId, message) => {
      const answer = await handle(peerId, message)
      if (answer == null || this.host == null) return answer
      const askers = this.seenAt(peerId)
      if (askers.length === 0) return answer
      const scope = this.scope()
      const keep = (peers: WirePeer[] | undefined): WirePeer[] | undefined => peers
        ?.map(peer => ({ ...peer, multiaddrs: peer.multiaddrs.filter(bytes => { const ma = multiaddr(bytes); return askers.some(ip => shareWith(ma, ip, scope)) }) }))
        .filter(peer => peer.multiaddrs.length > 0)
      return { ...answer, closer: keep(answer.closer), providers: keep(answer.providers) }
    }
  }

  private seenAt (peerId: PeerId): string[] {
    const ips: string[] = []
    for (const connection of this.host?.getConnections(peerId) ?? []) {
      const ip = ipOf(connection.remoteAddr)?.ip
      if (ip != null) ips.push(ip)
    }
    return ips
  }

  private scope (): LocalScope {
    const now = Date.now()
    if (this.subnets == null || now - this.subnets.readAt > INTERFACE_SCOPE_TTL_MS) {
      const blocks = new BlockList()
      for (const addresses of Object.values(networkInterfaces())) {
        for (const address of addresses ?? []) {
          if (address.internal || address.cidr == null) continue
          const [network, prefix] = address.cidr.split('/')
          blocks.addSubnet(network, Number(prefix), address.family === 'IPv4' ? 'ipv4' : 'ipv6')
        }
      }
      this.subnets = { onLink: rangeTest(blocks), readAt: now }
    }
    const host = this.host
    return {
      onLink: this.subnets.onLink,
      // asked only for a loopback address told by a third party; not listening yet counts as
      // loopback-only, so a bootstrap address given at start is never dropped
      get loopbackOnly () {
        return (host?.getMultiaddrs() ?? []).every(ma => { const ip = ipOf(ma)?.ip; return ip != null && isLoopbackIp(ip) })
      }
    }
  }
}
