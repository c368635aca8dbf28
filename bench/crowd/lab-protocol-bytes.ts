import type { LabMember } from '../../src/testnet/lab-testnet.js'

/** `protocol direction` → bytes, from a daemon's libp2p_data_transfer_bytes_total (its /metrics) */
export type ProtocolBytes = Map<string, number>

/** Parses the per-protocol byte counters out of Prometheus text */
export function parseProtocolBytes (text: string): ProtocolBytes {
  const bytes: ProtocolBytes = new Map()
  for (const line of text.split('\n')) {
    if (!line.startsWith('libp2p_data_transfer_bytes_total{')) continue
    const labels = line.slice(line.indexOf('{') + 1, line.lastIndexOf('}'))
    const label = (name: string): string => new RegExp(`${name}="([^"]*)"`).exec(labels)?.[1] ?? '?'
    const value = Number(line.slice(line.lastIndexOf(' ') + 1))
    if (Number.isFinite(value)) bytes.set(`${label('protocol')} ${label('direction')}`, value)
  }
  return bytes
}

/** DHT operations (walks) this daemon started, per kind (PROVIDE, FIND_PROVIDERS, ...), from kad-dht's operations metric */
export function parseDhtOperations (text: string): Map<string, number> {
  const counts = new Map<string, number>()
  for (const line of text.split('\n')) {
    const match = /^libp2p_kad_dht_operations_total\{operation="([^"]*)"\} ([0-9.e+-]+)$/.exec(line)
    if (match != null && Number.isFinite(Number(match[2]))) counts.set(match[1], Number(match[2]))
  }
  return counts
}

export interface DaemonCounters { bytes: ProtocolBytes, dhtOperations: Map<string, number> }

/** Every daemon's per-protocol bytes and DHT operations, from one /metrics read each */
export async function protocolBytesAll (members: LabMember[], signal: AbortSignal): Promise<Map<string, DaemonCounters>> {
  return new Map(await Promise.all(members.map(async m => {
    const text = await m.api.metrics({ signal }).catch(() => '')
    return [m.host, { bytes: parseProtocolBytes(text), dhtOperations: parseDhtOperations(text) }] as [string, DaemonCounters]
  })))
}

/** DHT operations all daemons started between two snapshots, per kind */
export function dhtOperationsDelta (before: Map<string, DaemonCounters>, after: Map<string, DaemonCounters>): Record<string, number> {
  const out: Record<string, number> = {}
  for (const [host, counters] of after) {
    for (const [type, value] of counters.dhtOperations) {
      const delta = value - (before.get(host)?.dhtOperations.get(type) ?? 0)
      if (delta > 0) out[type] = (out[type] ?? 0) + delta
    }
  }
  return out
}

/**
 * What each host sent (and received) per protocol between two snapshots, MiB: the sum over the
 * downloaders and the publisher apart, so traffic that does not grow with the file shows
 */
export function protocolBytesDelta (before: Map<string, DaemonCounters>, after: Map<string, DaemonCounters>, publisher: string): Record<string, { publisherMiB: number, downloadersMiB: number }> {
  const out: Record<string, { publisherMiB: number, downloadersMiB: number }> = {}
  for (const [host, counters] of after) {
    for (const [key, value] of counters.bytes) {
      const delta = value - (before.get(host)?.bytes.get(key) ?? 0)
      if (delta <= 0) continue
      const row = out[key] ??= { publisherMiB: 0, downloadersMiB: 0 }
      if (host === publisher) row.publisherMiB += delta / 2 ** 20
      else row.downloadersMiB += delta / 2 ** 20
    }
  }
  for (const row of Object.values(out)) {
    row.publisherMiB = Math.round(row.publisherMiB * 100) / 100
    row.downloadersMiB = Math.round(row.downloadersMiB * 100) / 100
  }
  return out
}
