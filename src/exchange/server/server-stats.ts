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
  /** Of blocksServed, those passed on while they still arrived here (relay-block.ts) */
  blocksRelayed: number
  /** Relayed blocks whose frame had to be aborted: the block arrived bad, or stopped arriving */
  relaysFailed: number
  busyReplies: number
  dontHaveReplies: number
  /** DONT_HAVE answers sent to spread a crowd over its own members (see crowd-spreader.ts) */
  spreadReplies: number
  /** Blocks sent in a crowd only because the asker could not find them elsewhere in time */
  spreadSentAfterWait: number
  /** Peers fetching from us now that are proven to serve on (the crowd we refer to) */
  crowdMembers: number
  /** Crowd probes a peer answered with the block, and probes that failed */
  probesServed: number
  probesFailed: number
  /** Requests answered BUSY after waiting too long for an upload slot (upload-slots.ts) */
  uploadSlotBusy: number
  /** HAVE queries answered */
  haveQueries: number
  /** Requests answered BUSY because their peer was past its budget */
  overBudget: number
  /** Peers dropped: far past their budget, or sending malformed frames */
  peersDropped: number
  /** Keyed by peer id string */
  peers: Map<string, PeerServeStats>
}

export function emptyPeerStats (): PeerServeStats {
  return { bytesServed: 0, blocksServed: 0, busyReplies: 0, dontHaveReplies: 0, requestsInFlight: 0, bytesInFlight: 0 }
}
