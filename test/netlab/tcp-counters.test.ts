import { describe, it, expect } from 'vitest'
import { parseTcpCounters, procNetFields, qdiscDrops, tcpSummary } from '../../src/netlab/tcp-counters.js'

const SNMP = `Ip: Forwarding DefaultTTL InReceives
Ip: 1 64 1200
IcmpMsg: InType3 OutType3
IcmpMsg: 4 4
Tcp: RtoAlgorithm RtoMin RtoMax MaxConn ActiveOpens PassiveOpens AttemptFails EstabResets CurrEstab InSegs OutSegs RetransSegs InErrs OutRsts InCsumErrors
Tcp: 1 200 120000 -1 17 16 0 0 33 1546808 1346808 284752 0 3 0
Udp: InDatagrams NoPorts
Udp: 10 0
`
const NETSTAT = `TcpExt: SyncookiesSent TCPTimeouts TCPLossProbes
TcpExt: 0 192 2277
IpExt: InNoRoutes InOctets
IpExt: 0 99
`
const TBF = `qdisc tbf 8001: root refcnt 2 rate 10Mbit burst 64Kb lat 100ms
 Sent 123456 bytes 2000 pkt (dropped 1322, overlimits 5000 requeues 0)
 backlog 0b 0p requeues 0
`

describe('lab TCP counters', () => {
  it('reads named fields from /proc/net pairs of lines', () => {
    const fields = procNetFields(SNMP)
    expect(fields.get('Tcp.OutSegs')).toBe(1346808)
    expect(fields.get('Tcp.RetransSegs')).toBe(284752)
    expect(fields.get('Ip.InReceives')).toBe(1200)
    expect(fields.get('Tcp.MaxConn')).toBe(-1)
  })

  it.each([
    ['a tbf that dropped', TBF, 1322],
    ['noqueue', 'qdisc noqueue 0: root refcnt 2\n Sent 0 bytes 0 pkt (dropped 0, overlimits 0 requeues 0)', 0],
    ['nothing printed', '', 0]
  ])('counts the drops of %s', (_name, text, drops) => {
    expect(qdiscDrops(text)).toBe(drops)
  })

  it('takes segments from snmp, timeouts from netstat, drops from tc', () => {
    expect(parseTcpCounters(SNMP, NETSTAT, TBF)).toEqual({ outSegs: 1346808, retransSegs: 284752, timeouts: 192, uplinkDrops: 1322 })
  })

  it('missing fields count as zero', () => {
    expect(parseTcpCounters('', '', '')).toEqual({ outSegs: 0, retransSegs: 0, timeouts: 0, uplinkDrops: 0 })
  })

  it.each([
    [{ outSegs: 100, retransSegs: 5, timeouts: 1, uplinkDrops: 2 }, { outSegs: 1100, retransSegs: 205, timeouts: 4, uplinkDrops: 52 }, { segmentsSent: 1000, retransmittedSegments: 200, retransmittedShare: 0.2, timeouts: 3, uplinkDrops: 50 }],
    [{ outSegs: 10, retransSegs: 0, timeouts: 0, uplinkDrops: 0 }, { outSegs: 10, retransSegs: 0, timeouts: 0, uplinkDrops: 0 }, { segmentsSent: 0, retransmittedSegments: 0, retransmittedShare: 0, timeouts: 0, uplinkDrops: 0 }],
    // a counter that went backwards (a namespace made anew) is not a negative count
    [{ outSegs: 500, retransSegs: 50, timeouts: 5, uplinkDrops: 5 }, { outSegs: 100, retransSegs: 10, timeouts: 1, uplinkDrops: 1 }, { segmentsSent: 0, retransmittedSegments: 0, retransmittedShare: 0, timeouts: 0, uplinkDrops: 0 }]
  ])('summarises a crowd from before and after (%#)', (before, after, summary) => {
    expect(tcpSummary(before, after)).toEqual(summary)
  })
})
