export interface PeerServeStats {
  bytesServed: number
  blocksServed: number
  busyReplies: number
  dontHaveReplies: number
  requestsInFlight: number
  bytesInFlight: number
}

export interface ExchangeServerStats {
  bytesServed: number
  blocksServed: number
  busyReplies: number
  dontHaveReplies: number
  /** DONT_HAVE answers sent to spread a crowd over its own members (see crowd-spreader.ts) */
  spreadReplies: number
  /** Blocks sent in a crowd only because the asker could not find them elsewhere in time */
  spreadSentAfterWait: number
  /** HAVE queries answered */
  haveQueries: number
  /** Keyed by peer id string */
  peers: Map<string, PeerServeStats>
}

export function emptyPeerStats (): PeerServeStats {
  return { bytesServed: 0, blocksServed: 0, busyReplies: 0, dontHaveReplies: 0, requestsInFlight: 0, bytesInFlight: 0 }
}
