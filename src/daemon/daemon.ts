import { createNode } from '../node/create-node.js'
import type { KizunaNode } from '../node/node.js'
import type { ConfigOverrides } from '../node/node-options.js'
import { ApiServer } from '../api/server.js'
import { ApiClient } from '../api/client.js'
import { Repo } from '../node/repo.js'
import { tuneProcess } from '../tune-process.js'
import type { FastifyInstance } from 'fastify'
import { MetricsListener } from '../api/routes/metrics.js'
import { createDaemonLog, DEFAULT_LOG_LEVEL, type LogLevel } from './log.js'
import { printNodeEvents } from './lines.js'

export interface DaemonOptions {
  repo: string
  overrides?: ConfigOverrides
  /** Where status lines go (stdout for the CLI) */
  print: (line: string) => void
  extraRoutes?: Array<(app: FastifyInstance, node: KizunaNode) => void>
  /** HOST:PORT (loopback) of an extra /metrics listener without a token; off when unset */
  metricsListen?: string
  /** Lines below this level are not printed (default info) */
  logLevel?: LogLevel
}

export interface RunningDaemon {
  node: KizunaNode
  api: ApiServer
  /** Resolves once the daemon has shut down (after stop() or POST /stop) */
  stopped: Promise<void>
  /** where --metrics serves /metrics without the token, when asked for */
  metricsAddress?: string
  stop(): Promise<void>
}

/**
 * Starts node + API, publishes the API address in the repo and prints `ready` only once the
 * API has answered a real request, so scripts can start talking the moment they see it.
 */
export async function startDaemon (options: DaemonOptions): Promise<RunningDaemon> {
  const repo = new Repo(options.repo)
  const node = await createNode({ repo: repo.path, overrides: options.overrides })
  const log = createDaemonLog(options.print, options.logLevel ?? DEFAULT_LOG_LEVEL)
  printNodeEvents(node, log.info)
  node.on('liveness:round', round => { log.debug(`liveness round: ${round.answered} of ${round.pinged} answered in ${round.durationMs} ms${round.evicted.length > 0 ? `, evicted ${round.evicted.length}` : ''}`) })
  // the daemon owns the process: libp2p's and the process's metrics join the node's registry
  node.collectProcessMetrics()
  await node.start()
  // a daemon owns its process: tune it now that start-up is done (the young-generation shrink
  // then frees what start-up grew)
  tuneProcess()
  let stopping: Promise<void> | undefined
  const { promise: stopped, resolve: markStopped } = Promise.withResolvers<void>()
  const stop = async (): Promise<void> => {
    stopping ??= (async () => {
      await api.stop().catch(() => {})
      await metricsListener?.stop().catch(() => {})
      await node.stop()
      await repo.clearDaemonInfo()
      markStopped()
    })()
    return stopping
  }

  let metricsListener: MetricsListener | undefined
  let metricsAddress: string | undefined
  const token = await repo.apiToken()
  const api = new ApiServer({
    node,
    token,
    listen: node.config.api,
    onStop: () => { void stop() },
    routes: options.extraRoutes
  })
  try {
    await api.start()
    if (options.metricsListen != null) {
      metricsListener = new MetricsListener(node, options.metricsListen)
      metricsAddress = await metricsListener.start()
    }
    await repo.writeDaemonInfo({ pid: process.pid, api: api.address, peerId: node.peerId.toString() })
    await new ApiClient({ api: api.address, token, repoPath: repo.path }).get('/health', { timeoutMs: 10_000 })
  } catch (err) {
    await stop()
    throw err
  }

  options.print(`peer id: ${node.peerId.toString()}`)
  for (const addr of node.addrs()) {
    options.print(`listening on: ${addr}`)
  }
  options.print(`api: http://${api.address}`)
  options.print(`dashboard: run \`kizuna ui\` for a login link to http://${api.address}/ui/`)
  if (metricsAddress != null) options.print(`metrics: http://${metricsAddress}/metrics`)
  options.print('ready')
  return { node, api, stopped, stop, metricsAddress }
}
