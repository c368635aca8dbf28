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

export async function protocolBytesAll (members: LabMember[], signal: AbortSignal): Promise<Map<string, ProtocolBytes>> {
  return new Map(await Promise.all(members.map(async m => [m.host, parseProtocolBytes(await m.api.metrics({ signal }).catch(() => ''))] as [string, ProtocolBytes])))
}

/**
 * What each host sent (and received) per protocol between two snapshots, MiB: the sum over the
 * downloaders and the publisher apart, so traffic that does not grow with the file shows
 */
export function protocolBytesDelta (before: Map<string, ProtocolBytes>, after: Map<string, ProtocolBytes>, publisher: string): Record<string, { publisherMiB: number, downloadersMiB: number }> {
  const out: Record<string, { publisherMiB: number, downloadersMiB: number }> = {}
  for (const [host, counters] of after) {
    for (const [key, value] of counters) {
      const delta = value - (before.get(host)?.get(key) ?? 0)
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
