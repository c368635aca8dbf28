import { describe, it, expect } from 'vitest'
import { parseProtocolBytes, protocolBytesDelta } from '../../bench/crowd/lab-protocol-bytes.js'

const METRICS = `# HELP libp2p_data_transfer_bytes_total Metric
libp2p_kad_dht_operations_total{operation="GET_CLOSEST_PEERS"} 1
libp2p_data_transfer_bytes_total{protocol="/kizuna/exchange/1.0.0",direction="sent"} 2097152
libp2p_data_transfer_bytes_total{protocol="/kizuna/kad/1.0.0",direction="received"} 1024
`

describe('lab protocol bytes', () => {
  it('reads the per-protocol byte counters, and nothing else', () => {
    expect([...parseProtocolBytes(METRICS)]).toEqual([['/kizuna/exchange/1.0.0 sent', 2097152], ['/kizuna/kad/1.0.0 received', 1024]])
    expect(parseProtocolBytes('').size).toBe(0)
  })

  it('splits what was sent between two snapshots into the publisher and the downloaders', () => {
    const before = new Map([['pub', parseProtocolBytes('')], ['d1', parseProtocolBytes('')]])
    const after = new Map([['pub', parseProtocolBytes(METRICS)], ['d1', parseProtocolBytes(METRICS)]])
    expect(protocolBytesDelta(before, after, 'pub')['/kizuna/exchange/1.0.0 sent']).toEqual({ publisherMiB: 2, downloadersMiB: 2 })
    // a counter that did not grow is left out
    expect(protocolBytesDelta(after, after, 'pub')).toEqual({})
  })
})
