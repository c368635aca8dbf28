import { AsyncLocalStorage } from 'node:async_hooks'
import { networkInterfaces } from 'node:os'
import { BlockList } from 'node:net'
import type { Connection, PeerId, PeerInfo, StreamHandler, StreamHandlerOptions } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import { announceable, ipOf, isLoopbackIp, keepLearned, shareWith, type LocalScope } from './address-scope.js'

/** Our interface subnets are re-read at most this often (interfaces rarely change) */
export const INTERFACE_SCOPE_TTL_MS = 10_000

/** The part of libp2p's registrar (an internal interface) the wrapper touches */
interface HandlerRegistry {
  handle: (protocol: string, handler: StreamHandler, options?: StreamHandlerOptions) => Promise<void>
}

interface AddressHost {
  getConnections: (peerId?: PeerId) => Connection[]
  getMultiaddrs: () => Multiaddr[]
}

/**
 * Applies the rules of address-scope.ts to libp2p: the announce filter, the peer store's
 * address filter (connection gater), and the DHT's answers, which are filtered for the peer
 * that asked (known through the DHT protocol handler's connection).
 */
export class AddressPolicy {
  private host?: AddressHost
  private readonly asker = new AsyncLocalStorage<string>()
  private subnets?: { blocks: BlockList, readAt: number }

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

  /** kad-dht peerInfoMapper: what we tell the asker of the current DHT request */
  readonly peerInfoMapper = (peer: PeerInfo): PeerInfo => {
    const askerIp = this.asker.getStore()
    if (askerIp == null || this.host == null) return peer
    const scope = this.scope()
    return { ...peer, multiaddrs: peer.multiaddrs.filter(ma => shareWith(ma, askerIp, scope)) }
  }

  /** Wraps a registrar so every protocol handler runs knowing which IP the request came from */
  wrapRegistrar<R extends HandlerRegistry> (registrar: R): R {
    const asker = this.asker
    return new Proxy(registrar, {
      get (target, property) {
        if (property === 'handle') {
          return async (protocol: string, handler: StreamHandler, options?: StreamHandlerOptions) => {
            const wrapped: StreamHandler = (stream, connection) => asker.run(ipOf(connection.remoteAddr)?.ip ?? '', () => handler(stream, connection))
            await target.handle(protocol, wrapped, options)
          }
        }
        const value = Reflect.get(target, property, target)
        return typeof value === 'function' ? value.bind(target) : value
      }
    })
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
      this.subnets = { blocks, readAt: now }
    }
    const blocks = this.subnets.blocks
    const host = this.host
    return {
      onLink: ip => blocks.check(ip, ip.includes(':') ? 'ipv6' : 'ipv4'),
      // asked only for a loopback address told by a third party; not listening yet counts as
      // loopback-only, so a bootstrap address given at start is never dropped
      get loopbackOnly () {
        return (host?.getMultiaddrs() ?? []).every(ma => { const ip = ipOf(ma)?.ip; return ip != null && isLoopbackIp(ip) })
      }
    }
  }
}
