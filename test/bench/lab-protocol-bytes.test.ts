import { describe, it, expect } from 'vitest'
import { dhtRequestsDelta, parseDhtRequests, parseProtocolBytes, protocolBytesDelta, type DaemonCounters } from '../../bench/crowd/lab-protocol-bytes.js'

const METRICS = `# HELP libp2p_kad_dht_outbound_rpc_requests_total Metric
# TYPE libp2p_kad_dht_outbound_rpc_requests_total gauge
libp2p_kad_dht_outbound_rpc_requests_total{key="FIND_NODE"} 90
libp2p_kad_dht_outbound_rpc_requests_total{key="ADD_PROVIDER"} 12
libp2p_kad_dht_inbound_rpc_requests_total{key="FIND_NODE"} 70
libp2p_data_transfer_bytes_total{protocol="/kizuna/exchange/1.0.0",direction="sent"} 2097152
libp2p_data_transfer_bytes_total{protocol="/kizuna/kad/1.0.0",direction="received"} 1024
`

const counters = (text: string): DaemonCounters => ({ bytes: parseProtocolBytes(text), dhtRequests: parseDhtRequests(text) })

describe('lab daemon counters', () => {
  it('reads outbound DHT requests per message type, and nothing else', () => {
    expect([...parseDhtRequests(METRICS)]).toEqual([['FIND_NODE', 90], ['ADD_PROVIDER', 12]])
    expect(parseDhtRequests('').size).toBe(0)
  })

  it('sums what every daemon sent between two snapshots', () => {
    const before = new Map([['pub', counters(METRICS)], ['d1', counters('')]])
    const after = new Map([
      ['pub', counters(METRICS.replace('"FIND_NODE"} 90', '"FIND_NODE"} 100'))],
      ['d1', counters('libp2p_kad_dht_outbound_rpc_requests_total{key="FIND_NODE"} 5\nlibp2p_kad_dht_outbound_rpc_requests_total{key="GET_PROVIDERS"} 3')]
    ])
    expect(dhtRequestsDelta(before, after)).toEqual({ FIND_NODE: 15, GET_PROVIDERS: 3 })
  })

  it('splits protocol bytes into the publisher and the downloaders', () => {
    const before = new Map([['pub', counters('')], ['d1', counters('')]])
    const after = new Map([['pub', counters(METRICS)], ['d1', counters(METRICS)]])
    expect(protocolBytesDelta(before, after, 'pub')['/kizuna/exchange/1.0.0 sent']).toEqual({ publisherMiB: 2, downloadersMiB: 2 })
  })
})
