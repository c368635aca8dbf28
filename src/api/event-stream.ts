import type { FastifyReply } from 'fastify'
import { KizunaError } from '../errors.js'

/**
 * Long operations (add, get) answer with newline-delimited JSON: one progress event per line,
 * a final `{ "type": "error", code, message }` line if the operation fails after it began.
 * The HTTP status is already 200 by then, so the error travels in-band.
 */
export async function sendEventStream (reply: FastifyReply, events: AsyncIterable<object>, onClientGone: () => void): Promise<void> {
  reply.hijack()
  const raw = reply.raw
  raw.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-store' })
  let gone = false
  raw.on('close', () => {
    if (raw.writableFinished) return
    gone = true
    onClientGone()
  })
  try {
    for await (const event of events) {
      // Leaving the loop ends the operation's generator, so its clean-up runs now: a closed
      // socket never drains, and an operation parked on it would never finish.
      if (gone) break
      if (!raw.write(JSON.stringify(event, bigintSafe) + '\n')) await drainedOrClosed(raw)
    }
  } catch (err) {
    const code = err instanceof KizunaError ? err.code : ((err as { code?: string }).code ?? 'ERR_INTERNAL')
    raw.write(JSON.stringify({ type: 'error', code, message: (err as Error).message }) + '\n')
  } finally {
    raw.end()
  }
}

async function drainedOrClosed (raw: FastifyReply['raw']): Promise<void> {
  await new Promise<void>(resolve => {
    const done = (): void => {
      raw.off('drain', done)
      raw.off('close', done)
      resolve()
    }
    raw.on('drain', done)
    raw.on('close', done)
  })
}

function bigintSafe (_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? Number(value) : value
}

/** Client side: yields each event; a final error line is thrown as a KizunaError */
export async function * readEventStream<T extends { type: string }> (response: { body: AsyncIterable<Uint8Array> }): AsyncGenerator<T> {
  const decoder = new TextDecoder()
  let buffered = ''
  for await (const chunk of response.body) {
    buffered += decoder.decode(chunk, { stream: true })
    let newline = buffered.indexOf('\n')
    while (newline >= 0) {
      const line = buffered.slice(0, newline)
      buffered = buffered.slice(newline + 1)
      if (line.trim() !== '') {
        const event = JSON.parse(line) as T & { code?: string, message?: string }
        if (event.type === 'error') {
          throw new KizunaError(event.code ?? 'ERR_REMOTE', event.message ?? 'operation failed')
        }
        yield event
      }
      newline = buffered.indexOf('\n')
    }
  }
}
