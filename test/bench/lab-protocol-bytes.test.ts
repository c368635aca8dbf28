import { describe, it, expect } from 'vitest'
import { dhtOperationsDelta, parseDhtOperations, parseProtocolBytes, protocolBytesDelta, type DaemonCounters } from '../../bench/crowd/lab-protocol-bytes.js'

const METRICS = `# HELP libp2p_kad_dht_operations_total libp2p_kad_dht_operations_total
# TYPE libp2p_kad_dht_operations_total gauge
libp2p_kad_dht_operations_total{operation="GET_CLOSEST_PEERS"} 90
libp2p_kad_dht_operations_total{operation="PROVIDE"} 12
libp2p_kad_dht_inbound_rpc_requests_total{libp2p_kad_dht_inbound_rpc_requests_total="GET_CLOSEST_PEERS"} 70
libp2p_data_transfer_bytes_total{protocol="/kizuna/exchange/1.0.0",direction="sent"} 2097152
libp2p_data_transfer_bytes_total{protocol="/kizuna/kad/1.0.0",direction="received"} 1024
`

const counters = (text: string): DaemonCounters => ({ bytes: parseProtocolBytes(text), dhtOperations: parseDhtOperations(text) })

describe('lab daemon counters', () => {
  it('reads DHT operations per kind, and nothing else', () => {
    expect([...parseDhtOperations(METRICS)]).toEqual([['GET_CLOSEST_PEERS', 90], ['PROVIDE', 12]])
    expect(parseDhtOperations('').size).toBe(0)
  })

  it('sums what every daemon sent between two snapshots', () => {
    const before = new Map([['pub', counters(METRICS)], ['d1', counters('')]])
    const after = new Map([
      ['pub', counters(METRICS.replace('"GET_CLOSEST_PEERS"} 90', '"GET_CLOSEST_PEERS"} 100'))],
      ['d1', counters('libp2p_kad_dht_operations_total{operation="GET_CLOSEST_PEERS"} 5\nlibp2p_kad_dht_operations_total{operation="FIND_PROVIDERS"} 3')]
    ])
    expect(dhtOperationsDelta(before, after)).toEqual({ GET_CLOSEST_PEERS: 15, FIND_PROVIDERS: 3 })
  })

  it('splits protocol bytes into the publisher and the downloaders', () => {
    const before = new Map([['pub', counters('')], ['d1', counters('')]])
    const after = new Map([['pub', counters(METRICS)], ['d1', counters(METRICS)]])
    expect(protocolBytesDelta(before, after, 'pub')['/kizuna/exchange/1.0.0 sent']).toEqual({ publisherMiB: 2, downloadersMiB: 2 })
  })
})
