import { Command, Option } from 'commander'
import { action, collect, repoFrom, withCommonOptions, type CommonOptions } from '../common.js'
import { KizunaError } from '../../errors.js'
import { multiaddr } from '@multiformats/multiaddr'
import { parseApiAddress } from '../../node/config.js'
import { resolveLogLevel } from '../../daemon/log.js'

interface DaemonFlags extends CommonOptions {
  listen?: string[]
  bootstrap?: string[]
  api?: string
  mdns: boolean
  peerTimeout?: string
  lanSwarm?: boolean
  cacheBytes?: string
  replication: boolean
  replicationInterval?: string
  cacheIdle?: string
  hotDemand?: string
  metrics?: string
  logLevel?: string
  relay: boolean
  quic: boolean
  upnp: boolean
  reachability?: 'auto' | 'public' | 'private'
}

function parsePositiveSeconds (flag: string, value: string): number {
  const seconds = Number(value)
  if (!Number.isFinite(seconds) || seconds <= 0) {
    throw new KizunaError('ERR_BAD_FLAG', `${flag} must be a positive number of seconds, got "${value}"`)
  }
  return seconds
}

function parseWhole (flag: string, value: string): number {
  const n = Number(value)
  if (!Number.isSafeInteger(n) || n < 0) {
    throw new KizunaError('ERR_BAD_FLAG', `${flag} must be a whole number, got "${value}"`)
  }
  return n
}

export function daemonCommand (): Command {
  return withCommonOptions(new Command('daemon'))
    .description('run a Kizuna node with its local HTTP API')
    .addOption(new Option('--listen <multiaddr>', 'address to listen on (repeatable)').argParser(collect))
    .addOption(new Option('--bootstrap <multiaddr>', 'peer to join through, ending in /p2p/ID (repeatable)').argParser(collect))
    .addOption(new Option('--api <host:port>', 'API address (loopback; port 0 picks a free port)'))
    .option('--no-mdns', 'do not discover peers on the LAN with mDNS')
    .addOption(new Option('--peer-timeout <seconds>', 'evict peers silent for this long'))
    .addOption(new Option('--cache-bytes <bytes>', 'quota for cached copies held for others'))
    .option('--no-replication', 'turn demand-driven replication off')
    .addOption(new Option('--replication-interval <seconds>', 'seconds between replication rounds'))
    .addOption(new Option('--cache-idle <seconds>', 'cached copies unrequested this long age out'))
    .addOption(new Option('--hot-demand <per-minute>', 'requests per minute that make content hot'))
    .addOption(new Option('--metrics <host:port>', 'also serve Prometheus /metrics here, without the token (loopback only; off by default)'))
    .addOption(new Option('--log-level <level>', 'error, warn, info or debug (default: $KIZUNA_LOG or info)'))
    .option('--no-relay', 'never act as a circuit relay for other peers')
    .option('--no-quic', 'listen on TCP only, not also on QUIC')
    .option('--no-upnp', 'do not ask the router for a port mapping')
    .addOption(new Option('--reachability <kind>', 'skip reachability detection (docs/nat.md)').choices(['auto', 'public', 'private']))
    .addOption(new Option('--lan-swarm', 'accept many connections per second from one IP (local test swarms share 127.0.0.1)'))
    .action(action(async (flags: DaemonFlags) => {
      // check flags before touching the repo, so a typo never leaves a half-started daemon
      for (const addr of flags.listen ?? []) {
        try { multiaddr(addr) } catch (err) { throw new KizunaError('ERR_BAD_MULTIADDR', `--listen "${addr}" is not a multiaddr: ${(err as Error).message}`) }
      }
      // the node (libp2p and all) loads only here: every other command starts without it
      const [{ startDaemon }, { parsePeerMultiaddr }] = await Promise.all([import('../../daemon/daemon.js'), import('../../peers/address.js')])
      for (const addr of flags.bootstrap ?? []) parsePeerMultiaddr(addr)
      if (flags.api != null) parseApiAddress(flags.api, '--api')
      if (flags.metrics != null) parseApiAddress(flags.metrics, '--metrics')
      const logLevel = resolveLogLevel(flags.logLevel)
      const peerTimeout = flags.peerTimeout != null ? parsePositiveSeconds('--peer-timeout', flags.peerTimeout) : undefined
      const cacheBytes = flags.cacheBytes != null ? parseWhole('--cache-bytes', flags.cacheBytes) : undefined
      const replicationInterval = flags.replicationInterval != null ? parsePositiveSeconds('--replication-interval', flags.replicationInterval) : undefined
      const cacheIdleTimeout = flags.cacheIdle != null ? parsePositiveSeconds('--cache-idle', flags.cacheIdle) : undefined
      const hotDemand = flags.hotDemand != null ? parsePositiveSeconds('--hot-demand', flags.hotDemand) : undefined

      const repo = repoFrom(flags)
      const daemon = await startDaemon({
        repo: repo.path,
        overrides: {
          listen: flags.listen,
          bootstrap: flags.bootstrap,
          api: flags.api,
          mdns: flags.mdns === false ? false : undefined,
          peerTimeout,
          inboundConnectionsPerIpPerSecond: flags.lanSwarm === true ? 1000 : undefined,
          cacheBytes,
          replication: flags.replication === false ? false : undefined,
          replicationInterval,
          cacheIdleTimeout,
          hotDemand,
          relay: flags.relay === false ? false : undefined,
          quic: flags.quic === false ? false : undefined,
          upnp: flags.upnp === false ? false : undefined,
          reachability: flags.reachability
        },
        // --json: the start-up lines become one NDJSON "ready" event, below
        print: line => { if (flags.json !== true) process.stdout.write(line + '\n') },
        metricsListen: flags.metrics,
        logLevel
      })
      const say = (event: Record<string, unknown>, text: string): void => {
        process.stdout.write((flags.json === true ? JSON.stringify(event) : text) + '\n')
      }
      if (flags.json === true) {
        say({ type: 'ready', peerId: daemon.node.peerId.toString(), addrs: daemon.node.addrs().map(String), api: `http://${daemon.api.address}`, metrics: daemon.metricsAddress != null ? `http://${daemon.metricsAddress}/metrics` : undefined }, '')
      }
      const shutdown = (signal: string): void => {
        say({ type: 'stopping', signal }, `received ${signal}, shutting down`)
        void daemon.stop()
      }
      process.once('SIGINT', () => { shutdown('SIGINT') })
      process.once('SIGTERM', () => { shutdown('SIGTERM') })
      await daemon.stopped
      say({ type: 'stopped' }, 'stopped')
      // libp2p leaves some timers behind; the daemon's work is done
      setTimeout(() => process.exit(process.exitCode ?? 0), 200).unref()
    }))
}
