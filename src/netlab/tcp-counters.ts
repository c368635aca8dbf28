import { HOST_INTERFACE, type Lab } from './lab.js'

/**
 * TCP's own view of lab hosts: segments sent and retransmitted, retransmission timeouts, and the
 * packets each host's uplink (tbf) dropped. Read from every host's namespace (/proc/net is per
 * network namespace), before and after a transfer. A thin uplink's queue fills and drops; the
 * sender's TCP is told of those drops and backs off (lab.ts, gsoMaxBytes), so retransmissions
 * count what was lost beyond the host: on a downlink, in a router, or to a timeout.
 */
export interface TcpCounters {
  outSegs: number
  retransSegs: number
  /** retransmission timeouts (TcpExt TCPTimeouts): a flow that sat silent until its RTO fired */
  timeouts: number
  /** packets the qdisc on the host's eth0 (its uplink) dropped */
  uplinkDrops: number
}

export interface TcpSummary {
  segmentsSent: number
  retransmittedSegments: number
  /** retransmitted ÷ sent: the share of the uplinks' packets that repaired losses */
  retransmittedShare: number
  timeouts: number
  uplinkDrops: number
}

const ZERO: TcpCounters = { outSegs: 0, retransSegs: 0, timeouts: 0, uplinkDrops: 0 }

/**
 * The named fields of /proc/net/snmp or /proc/net/netstat: pairs of lines, a header
 * (`Tcp: RtoAlgorithm ... OutSegs RetransSegs ...`) then its values (`Tcp: 1 ...`)
 */
export function procNetFields (text: string): Map<string, number> {
  const fields = new Map<string, number>()
  const lines = text.split('\n').filter(line => line.trim() !== '')
  for (let i = 0; i + 1 < lines.length; i += 2) {
    const names = lines[i].trim().split(/\s+/)
    const values = lines[i + 1].trim().split(/\s+/)
    if (names[0] !== values[0]) continue
    const group = names[0].replace(/:$/, '')
    for (let j = 1; j < names.length && j < values.length; j++) {
      const value = Number(values[j])
      if (Number.isFinite(value)) fields.set(`${group}.${names[j]}`, value)
    }
  }
  return fields
}

/** Packets a qdisc dropped, from `tc -s qdisc show dev X` (the root qdisc's first "dropped N") */
export function qdiscDrops (text: string): number {
  const match = /dropped (\d+)/.exec(text)
  return match == null ? 0 : Number(match[1])
}

export function parseTcpCounters (snmp: string, netstat: string, qdisc: string): TcpCounters {
  const s = procNetFields(snmp)
  const n = procNetFields(netstat)
  return {
    outSegs: s.get('Tcp.OutSegs') ?? 0,
    retransSegs: s.get('Tcp.RetransSegs') ?? 0,
    timeouts: n.get('TcpExt.TCPTimeouts') ?? 0,
    uplinkDrops: qdiscDrops(qdisc)
  }
}

/** Every host's counters summed */
export async function tcpCountersAll (lab: Lab, hosts: string[]): Promise<TcpCounters> {
  const each = await Promise.all(hosts.map(async host => {
    const [snmp, netstat, qdisc] = await Promise.all([
      lab.exec(host, ['cat', '/proc/net/snmp']),
      lab.exec(host, ['cat', '/proc/net/netstat']),
      lab.exec(host, ['tc', '-s', 'qdisc', 'show', 'dev', HOST_INTERFACE])
    ])
    return parseTcpCounters(snmp.stdout, netstat.stdout, qdisc.stdout)
  }))
  return each.reduce((sum, c) => ({
    outSegs: sum.outSegs + c.outSegs,
    retransSegs: sum.retransSegs + c.retransSegs,
    timeouts: sum.timeouts + c.timeouts,
    uplinkDrops: sum.uplinkDrops + c.uplinkDrops
  }), ZERO)
}

export function tcpSummary (before: TcpCounters, after: TcpCounters): TcpSummary {
  const segmentsSent = Math.max(0, after.outSegs - before.outSegs)
  const retransmittedSegments = Math.max(0, after.retransSegs - before.retransSegs)
  return {
    segmentsSent,
    retransmittedSegments,
    retransmittedShare: segmentsSent === 0 ? 0 : Math.round(retransmittedSegments / segmentsSent * 1000) / 1000,
    timeouts: Math.max(0, after.timeouts - before.timeouts),
    uplinkDrops: Math.max(0, after.uplinkDrops - before.uplinkDrops)
  }
}
