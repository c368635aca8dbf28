import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'
import { prometheusMetrics } from '@libp2p/prometheus-metrics'
import type { Metrics } from '@libp2p/interface'

/** Seconds buckets of the per-get duration histogram: a local hit to a long download */
export const GET_DURATION_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900]

export interface MetricsSource {
  /** content bytes served to / fetched from peers, and blocks served, since start */
  totals(): { uploadedBytes: number, downloadedBytes: number, blocksServed: number }
  peerCounts(): { known: number, connected: number }
  /** bytes of kept content by kind (cached copies held for others, pinned) */
  storedBytes(): Promise<{ cached: number, pinned: number }>
}

/**
 * One node's Prometheus registry. Every metric lives in this registry, never in prom-client's
 * global one, so importing the library or running several nodes in one process has no effect
 * on anyone else's metrics. libp2p's and the process's metrics are process-wide by nature
 * (@libp2p/prometheus-metrics keeps a module-level table), so only the daemon turns them on.
 */
/**
 * How often the event-loop lag metric samples the loop. prom-client's default, 10 ms, woke an
 * idle daemon 100 times a second (200 epoll_pwait/s under strace), more than all its own timers
 */
export const EVENT_LOOP_SAMPLE_MS = 1000

export class NodeMetrics {
  readonly registry = new Registry()
  private readonly evictions: Counter
  private readonly offers: Counter<'outcome'>
  private readonly replicasStored: Counter<'reason'>
  private readonly cacheDrops: Counter
  private readonly getDuration: Histogram<'outcome'>
  private readonly addDuration: Histogram<'outcome'>
  private readonly blocksFetched: Counter
  private readonly verificationFailures: Counter<'reason'>
  private processWide = false

  constructor (source: MetricsSource) {
    const registers = [this.registry]
    // counters mirrored from totals the node keeps anyway: advanced by the difference at scrape time
    const mirror = (name: string, help: string, labelNames: string[], read: () => Record<string, number>): void => {
      const seen = new Map<string, number>()
      // eslint-disable-next-line no-new
      new Counter({
        name, help, labelNames, registers,
        collect () {
          for (const [label, value] of Object.entries(read())) {
            const delta = value - (seen.get(label) ?? 0)
            if (delta > 0) {
              if (labelNames.length > 0) this.inc({ [labelNames[0]]: label }, delta)
              else this.inc(delta)
            }
            seen.set(label, value)
          }
        }
      })
    }
    mirror('kizuna_content_bytes_total', 'Content bytes sent to peers (up) and fetched from peers (down)', ['direction'], () => {
      const t = source.totals()
      return { up: t.uploadedBytes, down: t.downloadedBytes }
    })
    mirror('kizuna_blocks_served_total', 'Blocks this node served to peers', [], () => ({ all: source.totals().blocksServed }))
    this.blocksFetched = new Counter({ name: 'kizuna_blocks_fetched_total', help: 'Blocks fetched from peers by gets', registers })
    this.verificationFailures = new Counter({ name: 'kizuna_verification_failures_total', help: 'Providers dropped from a get for a block that failed verification or malformed frames', labelNames: ['reason'], registers })
    // eslint-disable-next-line no-new
    new Gauge({
      name: 'kizuna_peers', help: 'Peers in this node\'s view (known) and with an open connection (connected)', labelNames: ['state'], registers,
      collect () {
        const { known, connected } = source.peerCounts()
        this.set({ state: 'known' }, known)
        this.set({ state: 'connected' }, connected)
      }
    })
    // eslint-disable-next-line no-new
    new Gauge({
      name: 'kizuna_stored_bytes', help: 'Bytes of kept content by kind: cached copies held for others, pinned content', labelNames: ['kind'], registers,
      async collect () {
        const { cached, pinned } = await source.storedBytes()
        this.set({ kind: 'cached' }, cached)
        this.set({ kind: 'pinned' }, pinned)
      }
    })
    this.evictions = new Counter({ name: 'kizuna_peer_evictions_total', help: 'Peers evicted from the view after staying silent', registers })
    this.offers = new Counter({ name: 'kizuna_replication_offers_total', help: 'Replica offers this node made, by outcome', labelNames: ['outcome'], registers })
    this.replicasStored = new Counter({ name: 'kizuna_replicas_stored_total', help: 'Replicas this node took, by reason (demand, or floor repair)', labelNames: ['reason'], registers })
    this.cacheDrops = new Counter({ name: 'kizuna_cache_drops_total', help: 'Cached copies dropped (idle or over quota)', registers })
    this.getDuration = new Histogram({ name: 'kizuna_get_duration_seconds', help: 'Duration of each get', labelNames: ['outcome'], buckets: GET_DURATION_BUCKETS, registers })
    this.addDuration = new Histogram({ name: 'kizuna_add_duration_seconds', help: 'Duration of each add', labelNames: ['outcome'], buckets: GET_DURATION_BUCKETS, registers })
  }

  peerEvicted (): void { this.evictions.inc() }
  offerMade (accepted: boolean): void { this.offers.inc({ outcome: accepted ? 'accepted' : 'declined' }) }
  replicaStored (reason: string): void { this.replicasStored.inc({ reason }) }
  cacheDropped (): void { this.cacheDrops.inc() }
  verificationFailed (reason: string): void { this.verificationFailures.inc({ reason }) }

  transferFinished (kind: 'add' | 'get', ok: boolean, durationMs: number, blocksFetched: number): void {
    const outcome = ok ? 'ok' : 'failed'
    if (kind === 'get') {
      this.getDuration.observe({ outcome }, durationMs / 1000)
      this.blocksFetched.inc(blocksFetched)
    } else {
      this.addDuration.observe({ outcome }, durationMs / 1000)
    }
  }

  /**
   * Daemon only: adds prom-client's process metrics to this registry and returns the libp2p
   * metrics component that reports into it (bytes by protocol, DHT operation times, ...).
   */
  processMetrics (): (components: any) => Metrics {
    if (!this.processWide) {
      this.processWide = true
      collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS })
    }
    // preserveExistingMetrics: otherwise the component clears prom-client's global registry
    return prometheusMetrics({ registry: this.registry, collectDefaultMetrics: false, preserveExistingMetrics: true })
  }

  get contentType (): string {
    return this.registry.contentType
  }

  async text (): Promise<string> {
    return await this.registry.metrics()
  }
}
