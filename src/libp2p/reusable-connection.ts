import type { Connection } from '@libp2p/interface'

/**
 * The open connection a new stream to a peer should go on: an unlimited (direct) one if there is
 * one, else the first open limited (relayed) one; undefined when none is open. Reusing it matters
 * because libp2p's dial by peer id skips limited connections (js-libp2p #2187) and would open
 * another circuit through the same relay (docs/nat.md).
 */
export function reusableConnection<C extends Pick<Connection, 'status' | 'limits'>> (connections: C[]): C | undefined {
  const open = connections.filter(c => c.status === 'open')
  return open.find(c => c.limits == null) ?? open[0]
}
