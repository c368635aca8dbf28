import http, { type IncomingMessage } from 'node:http'

/**
 * The API client's transport: node:http rather than the global fetch, whose WebAssembly HTTP
 * parser costs tens of MB of peak memory after the first request (docs/design-notes.md).
 */
export interface ApiResponse {
  status: number
  ok: boolean
  /** The body as it arrives (consume it, or call text(), once) */
  body: AsyncIterable<Uint8Array>
  text(): Promise<string>
}

export interface ApiRequest {
  method: string
  url: URL
  headers: Record<string, string>
  /** a JSON string, or a stream sent chunked (an upload) */
  body?: string | AsyncIterable<Uint8Array>
  signal?: AbortSignal
}

export async function sendRequest (request: ApiRequest): Promise<ApiResponse> {
  request.signal?.throwIfAborted()
  return new Promise<ApiResponse>((resolve, reject) => {
    const headers = { ...request.headers }
    if (typeof request.body === 'string') {
      headers['content-length'] = String(Buffer.byteLength(request.body))
    }
    const req = http.request(request.url, { method: request.method, headers, signal: request.signal }, response => {
      resolve(wrap(response, request.signal))
    })
    // an abort rejects with the signal's reason (TimeoutError for AbortSignal.timeout), as fetch does
    req.on('error', err => { reject(request.signal?.aborted === true ? request.signal.reason : err) })
    if (request.body === undefined || typeof request.body === 'string') {
      req.end(request.body)
      return
    }
    const body = request.body
    void (async () => {
      for await (const chunk of body) {
        if (!req.write(chunk)) await new Promise(resolve => { req.once('drain', resolve) })
      }
      req.end()
    })().catch(err => { req.destroy(err as Error) })
  })
}

function wrap (response: IncomingMessage, signal: AbortSignal | undefined): ApiResponse {
  const status = response.statusCode ?? 0
  const body = readBody(response, signal)
  return {
    status,
    ok: status >= 200 && status < 300,
    body,
    async text () {
      const chunks: Uint8Array[] = []
      for await (const chunk of body) {
        chunks.push(chunk)
      }
      return Buffer.concat(chunks).toString('utf8')
    }
  }
}

/** An abort mid-body surfaces as the signal's reason, not as the socket reset it causes */
async function * readBody (response: IncomingMessage, signal: AbortSignal | undefined): AsyncGenerator<Uint8Array> {
  try {
    for await (const chunk of response) {
      yield chunk as Uint8Array
    }
  } catch (err) {
    throw signal?.aborted === true ? signal.reason : err
  }
}
