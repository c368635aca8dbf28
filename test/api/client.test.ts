import '../../src/shim.js'
import http from 'node:http'
import { once } from 'node:events'
import { afterEach, describe, expect, it } from 'vitest'
import { ApiClient } from '../../src/api/client.js'
import { API_PREFIX } from '../../src/api/constants.js'

// The client's HTTP transport against plain node:http servers that misbehave on purpose
const servers: http.Server[] = []
afterEach(async () => {
  await Promise.all(servers.splice(0).map(async s => { s.closeAllConnections(); await new Promise(resolve => s.close(resolve)) }))
})

async function serve (handler: http.RequestListener): Promise<ApiClient> {
  const server = http.createServer(handler)
  servers.push(server)
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as { port: number }
  return new ApiClient({ api: `127.0.0.1:${port}`, token: 't0ken' })
}

describe('ApiClient over node:http', () => {
  it('sends the token and the JSON body, and parses the JSON reply', async () => {
    const client = await serve((req, res) => {
      let body = ''
      req.on('data', chunk => { body += chunk })
      req.on('end', () => { res.end(JSON.stringify({ url: req.url, auth: req.headers.authorization, body: JSON.parse(body) })) })
    })
    const reply = await client.post<{ url: string, auth: string, body: unknown }>('/echo', { name: '絆' })
    expect(reply).toEqual({ url: `${API_PREFIX}/echo`, auth: 'Bearer t0ken', body: { name: '絆' } })
  })

  it('an error status becomes an ApiError with the daemon\'s code; a non-JSON reply is ERR_BAD_RESPONSE', async () => {
    const client = await serve((req, res) => {
      if (req.url?.endsWith('/coded') === true) {
        res.writeHead(404).end(JSON.stringify({ code: 'ERR_NOT_FOUND', message: 'no such thing' }))
      } else {
        res.writeHead(200).end('<html>')
      }
    })
    await expect(client.get('/coded')).rejects.toMatchObject({ code: 'ERR_NOT_FOUND', status: 404 })
    await expect(client.get('/html')).rejects.toMatchObject({ code: 'ERR_BAD_RESPONSE' })
  })

  it('a daemon that does not answer in time is ERR_API_TIMEOUT; one that is gone is ERR_NO_DAEMON', async () => {
    const silent = await serve(() => { /* never answers */ })
    await expect(silent.get('/status', { timeoutMs: 200 })).rejects.toMatchObject({ code: 'ERR_API_TIMEOUT' })

    const gone = await serve(() => {})
    const server = servers.pop()!
    await new Promise(resolve => server.close(resolve))
    await expect(gone.get('/status')).rejects.toMatchObject({ code: 'ERR_NO_DAEMON' })
  })

  it('streams NDJSON events as they arrive, split anywhere, and throws an in-band error line by its code', async () => {
    const client = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/x-ndjson' })
      res.write('{"type":"a","n":1}\n{"type":')
      setImmediate(() => {
        res.write('"a","n":2}\n\n')
        setImmediate(() => { res.end('{"type":"error","code":"ERR_CONTENT_NOT_FOUND","message":"nobody has it"}\n') })
      })
    })
    const seen: unknown[] = []
    const consume = async (): Promise<void> => {
      for await (const event of client.stream<{ type: string, n: number }>('/get', {})) seen.push(event)
    }
    await expect(consume()).rejects.toMatchObject({ code: 'ERR_CONTENT_NOT_FOUND' })
    expect(seen).toEqual([{ type: 'a', n: 1 }, { type: 'a', n: 2 }])
  })

  it('an aborted stream stops with the abort, and the server sees the connection close', async () => {
    let closed: Promise<unknown> | undefined
    const client = await serve((req, res) => {
      closed = once(res, 'close')
      res.writeHead(200)
      res.write('{"type":"a"}\n')
    })
    const controller = new AbortController()
    const consume = async (): Promise<void> => {
      for await (const _ of client.stream('/get', {}, { signal: controller.signal })) controller.abort()
    }
    await expect(consume()).rejects.toMatchObject({ name: 'AbortError' })
    await closed
  })
})
