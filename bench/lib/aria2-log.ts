/**
 * Reads an aria2c `--log-level=info` log for the data phase of a BitTorrent download: from the
 * first peer handshake to the last piece. aria2c exits about a second after that, once it has told
 * the tracker "completed", so its start-to-exit time says little about moving the bytes.
 */

export interface Aria2DataPhase {
  /** ms from the first handshake line (sent or received) to the last "we got new piece" line */
  ms: number
  pieces: number
}

// "2026-12-06 05:36:12.095236 [INFO] ..." (local time; only differences are used)
const STAMP = /^(\d{4})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d)\.(\d{1,6}) /
const HANDSHAKE = / - (To|From): \S+ handshake /
const PIECE = / - we got new piece\. /

function stampMs (line: string): number | undefined {
  const m = STAMP.exec(line)
  if (m == null) return undefined
  const [, y, mo, d, h, mi, s, frac] = m
  return Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s)) + Number(frac.padEnd(6, '0')) / 1000
}

/** undefined when the log has no handshake or no piece (the download never started) */
export function aria2DataPhase (log: string): Aria2DataPhase | undefined {
  let first: number | undefined
  let last: number | undefined
  let pieces = 0
  for (const line of log.split('\n')) {
    if (first == null && HANDSHAKE.test(line)) first = stampMs(line)
    else if (first != null && PIECE.test(line)) {
      last = stampMs(line) ?? last
      pieces++
    }
  }
  if (first == null || last == null) return undefined
  return { ms: last - first, pieces }
}
