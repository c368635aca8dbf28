import { describe, it, expect } from 'vitest'
import { aria2DataPhase } from '../../bench/lib/aria2-log.js'

const line = (time: string, text: string): string => `2026-12-06 ${time} [INFO] [X.cc:1] CUID#14 - ${text}`
const TRACKER = '2026-12-06 05:36:10.093295 [INFO] [DefaultPieceStorage.cc:483] The download was complete.'
const HS_OUT = line('05:36:12.095236', 'To: 127.0.0.1:16881 handshake peerId=A2, reserved=00')
const HS_IN = line('05:36:12.095402', 'From: 127.0.0.1:16881 handshake peerId=A2, reserved=00')
const EXT = line('05:36:12.095422', 'To: 127.0.0.1:16881 extended handshake client=aria2')
const BLOCK = line('05:36:12.095789', 'From: 127.0.0.1:16881 piece index=61, begin=0, length=16384')
const P1 = line('05:36:12.096550', 'we got new piece. index=61')
const P2 = line('05:36:13.138412', 'we got new piece. index=9')
const DONE = line('05:36:13.138422', 'The download was complete.')
const ANNOUNCED = '2026-12-06 05:36:14.152767 [NOTICE] [RequestGroup.cc:1214] Download complete: leech/f.bin'

describe('aria2DataPhase', () => {
  it.each([
    { name: 'first handshake to last piece, not to the tracker announce', lines: [TRACKER, HS_OUT, HS_IN, EXT, BLOCK, P1, P2, DONE, ANNOUNCED], ms: 1043.176, pieces: 2 },
    { name: 'an incoming handshake starts it too', lines: [HS_IN, P1, P2], ms: 1043.01, pieces: 2 },
    { name: 'a single piece', lines: [HS_OUT, P1], ms: 1.314, pieces: 1 },
    { name: 'across midnight', lines: ['2026-12-06 23:59:59.900000 [INFO] [A] CUID#1 - To: 1.2.3.4:1 handshake x', '2026-12-07 00:00:00.100000 [INFO] [A] CUID#1 - we got new piece. index=0'], ms: 200, pieces: 1 }
  ])('$name', ({ lines, ms, pieces }) => {
    const phase = aria2DataPhase(lines.join('\n'))
    expect(phase?.pieces).toBe(pieces)
    expect(phase?.ms).toBeCloseTo(ms, 3)
  })

  it.each([
    { name: 'no handshake', lines: [TRACKER, P1] },
    { name: 'no piece', lines: [TRACKER, HS_OUT, EXT] },
    { name: 'empty', lines: [] }
  ])('undefined with $name', ({ lines }) => {
    expect(aria2DataPhase(lines.join('\n'))).toBeUndefined()
  })
})
