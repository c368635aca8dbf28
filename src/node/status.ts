import type { CrowdStats, ExchangeTotals } from '../sharing/sharing-service.js'
import type { NatStatus } from '../nat/nat-service.js'
import type { ContentRecord } from '../content/index.js'

/** `kizuna status` */
export interface NodeStatus {
  peerId: string
  uptimeSeconds: number
  peers: { known: number, connected: number, answeredLastRound: number }
  routingTableSize: number
  addrs: string[]
  /** content bytes served to peers since start */
  uploadedBytes: number
  /** content bytes fetched from peers since start */
  downloadedBytes: number
  /** crowd spreading: block requests referred to the crowd, and blocks sent after the asker waited in vain */
  crowd: CrowdStats
  /** requests the exchange server answered since start, by kind */
  exchange: ExchangeTotals
  /** reachability, confirmed public addresses, DHT mode and relays (docs/nat.md) */
  nat: NatStatus
}

/** `kizuna rm` */
export interface RemoveSummary { cid: string, freedBlocks: number, freedBytes: number }

/** `kizuna ls` */
export interface ContentSummary { cid: string, kind: string, size: number, blocks: number, name: string | null, addedAt: string }

export function contentSummary (r: ContentRecord): ContentSummary {
  return { cid: r.cid.toString(), kind: r.kind, size: r.size, blocks: r.blocks, name: r.name ?? null, addedAt: new Date(r.addedAt).toISOString() }
}

/** `kizuna replicas` */
export interface ReplicaSummary { peerId: string, kind: string, verified: boolean }
