import { Uint8ArrayList } from 'uint8arraylist'
import { describe, expect, it } from 'vitest'
import { BLOCK_PIECE_BYTES, FramedStream } from '../../../src/exchange/wire/framed-stream.js'
import { FrameDecoder, MAX_FRAME_LENGTH, encodeBlockHeader, type Message } from '../../../src/exchange/wire/codec.js'
import type { Stream } from '@libp2p/interface'

/**
 * The parts of a libp2p stream FramedStream uses: send() records each call, and the test says
 * when the transport is full (writableNeedsDrain) and when it drains.
 */
class FakeStream extends EventTarget {
  status = 'open'
  readStatus = 'readable'
  writeStatus = 'writable'
  readableEnded = false
  writableNeedsDrain = false
  /** the transport fills after each send while true */
  fillOnSend = false
  readonly sent: Uint8Array[] = []

  send (data: Uint8Array | Uint8ArrayList): boolean {
    this.sent.push(data instanceof Uint8Array ? data.slice() : data.subarray())
    if (this.fillOnSend) this.writableNeedsDrain = true
    return !this.writableNeedsDrain
  }

  drain (): void {
    this.writableNeedsDrain = false
    this.dispatchEvent(new Event('drain'))
  }

  abort (): void {
    this.status = 'aborted'
    this.writeStatus = 'closed'
    this.dispatchEvent(Object.assign(new Event('close'), { error: new Error('aborted') }))
  }
}

function framedOver (stream: FakeStream): FramedStream {
  return new FramedStream(stream as unknown as Stream, { maxFrameLength: MAX_FRAME_LENGTH, onMessage: () => {}, onClose: () => {} })
}

function decodeSent (stream: FakeStream): Message[] {
  const decoder = new FrameDecoder()
  const out: Message[] = []
  for (const chunk of stream.sent) {
    decoder.push(chunk)
    for (let m = decoder.next(); m !== undefined; m = decoder.next()) out.push(m)
  }
  expect(decoder.bufferedLength).toBe(0)
  return out
}

const tick = async (): Promise<void> => { await new Promise(resolve => setImmediate(resolve)) }

describe('FramedStream writes a block in pieces', () => {
  it('hands the transport one piece at a time, the next only after a drain', async () => {
    const stream = new FakeStream()
    stream.fillOnSend = true
    const framed = framedOver(stream)
    const bytes = new Uint8Array(4 * BLOCK_PIECE_BYTES + 10).map((_, i) => i % 251)
    const writing = framed.writeBlockInPieces(9, bytes)
    await tick()
    // the header went out, and the transport was full after it
    expect(stream.sent.length).toBe(1)
    for (let piece = 1; piece <= 5; piece++) {
      stream.drain()
      await tick()
      expect(stream.sent.length).toBe(1 + piece)
      expect(stream.sent[piece].byteLength).toBeLessThanOrEqual(BLOCK_PIECE_BYTES)
    }
    stream.drain()
    await writing
    const [msg] = decodeSent(stream)
    expect(msg.type).toBe('block')
    expect(Buffer.from((msg as { bytes: Uint8Array }).bytes).equals(Buffer.from(bytes))).toBe(true)
  })

  it('sends small frames queued meanwhile right after the block, never inside it', async () => {
    const stream = new FakeStream()
    stream.fillOnSend = true
    const framed = framedOver(stream)
    const bytes = new Uint8Array(2 * BLOCK_PIECE_BYTES).fill(7)
    const writing = framed.writeBlockInPieces(1, bytes)
    await tick()
    framed.sendNow({ type: 'dont-have', id: 2 })
    const another = framed.write({ type: 'refer', id: 3 })
    for (let i = 0; i < 6; i++) {
      stream.drain()
      await tick()
    }
    await Promise.all([writing, another])
    expect(decodeSent(stream).map(m => [m.type, m.id])).toEqual([['block', 1], ['dont-have', 2], ['refer', 3]])
  })

  it('a frame begun and then aborted wakes its waiting writers with an error', async () => {
    const stream = new FakeStream()
    const framed = framedOver(stream)
    await framed.beginFrame(encodeBlockHeader(5, 100))
    const waiting = framed.write({ type: 'dont-have', id: 6 })
    framed.abort(new Error('source gone'))
    await expect(waiting).rejects.toMatchObject({ code: 'ERR_CHANNEL_CLOSED' })
  })
})
