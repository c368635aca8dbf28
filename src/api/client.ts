import { Repo } from '../node/repo.js'
import { ApiError, DaemonNotRunningError, KizunaError } from '../errors.js'
import { API_PREFIX, DEFAULT_API_TIMEOUT_MS } from './constants.js'
import { readEventStream } from './event-stream.js'
import { sendRequest, type ApiResponse } from './http-transport.js'
import { timeoutSignal } from '../util/timeout-signal.js'

export interface ApiClientOptions {
  /** HOST:PORT of the daemon's API */
  api: string
  token: string
  repoPath?: string
  /** Host header to send when `api` is a forwarder to the daemon's own loopback address (the network lab's bridge) */
  hostHeader?: string
}

/** Talks to a running daemon's HTTP API; used by the CLI, the testnet and the demo */
export class ApiClient {
  readonly api: string
  private readonly token: string
  private readonly repoPath: string
  private readonly hostHeader?: string

  constructor (options: ApiClientOptions) {
    this.api = options.api
    this.token = options.token
    this.repoPath = options.repoPath ?? '(unknown repo)'
    this.hostHeader = options.hostHeader
  }

  /** Finds the daemon of a repo through the address it published in daemon.json */
  static async forRepo (repo: Repo): Promise<ApiClient> {
    await repo.assertInitialized()
    const info = await repo.readDaemonInfo()
    if (info == null) {
      throw new DaemonNotRunningError(repo.path)
    }
    return new ApiClient({ api: info.api, token: await repo.apiToken(), repoPath: repo.path })
  }

  /** POSTs a long operation and yields its progress events as they arrive */
  async * stream<T extends { type: string }> (path: string, body: unknown, options: { signal?: AbortSignal } = {}): AsyncGenerator<T> {
    const response = await this.send('POST', path, body, options.signal)
    if (!response.ok) {
      await this.throwFor(response)
    }
    yield * readEventStream<T>(response)
  }

  /** Uploads a byte stream (`add -`) and yields the add's progress events */
  async * upload<T extends { type: string }> (path: string, bytes: AsyncIterable<Uint8Array>, options: { signal?: AbortSignal } = {}): AsyncGenerator<T> {
    const response = await this.send('POST', path, bytes, options.signal, 'application/octet-stream')
    if (!response.ok) await this.throwFor(response)
    yield * readEventStream<T>(response)
  }

  /** GET /metrics (beside the API prefix): Prometheus text */
  async metrics (options: { signal?: AbortSignal } = {}): Promise<string> {
    const response = await sendRequest({
      url: new URL(`http://${this.api}/metrics`),
      method: 'GET',
      headers: this.headers(),
      signal: options.signal
    })
    if (!response.ok) await this.throwFor(response)
    return await response.text()
  }

  /** GETs raw bytes (`cat`): the body as it arrives */
  async * download (path: string, options: { signal?: AbortSignal } = {}): AsyncGenerator<Uint8Array> {
    const response = await this.send('GET', path, undefined, options.signal)
    if (!response.ok) await this.throwFor(response)
    yield * response.body
  }

  private async send (method: string, path: string, body: unknown, signal?: AbortSignal, contentType = 'application/json'): Promise<ApiResponse> {
    const raw = contentType !== 'application/json'
    try {
      return await sendRequest({
        url: new URL(`http://${this.api}${API_PREFIX}${path}`),
        method,
        headers: { ...this.headers(), ...(body !== undefined ? { 'content-type': contentType } : {}) },
        body: body === undefined ? undefined : raw ? body as AsyncIterable<Uint8Array> : JSON.stringify(body),
        signal
      })
    } catch (err) {
      const code = (err as { code?: string }).code
      if (code === 'ECONNREFUSED' || code === 'ECONNRESET') {
        throw new DaemonNotRunningError(this.repoPath)
      }
      if ((err as Error).name === 'TimeoutError') {
        throw new KizunaError('ERR_API_TIMEOUT', `the daemon at ${this.api} did not answer ${method} ${path} in time`)
      }
      throw err
    }
  }

  /** What every request to the daemon carries: the token, and the Host the API expects */
  private headers (): Record<string, string> {
    return { authorization: `Bearer ${this.token}`, ...(this.hostHeader != null ? { host: this.hostHeader } : {}) }
  }

  private async throwFor (response: ApiResponse): Promise<never> {
    const text = await response.text()
    let error: { code?: string, message?: string } | undefined
    try {
      error = JSON.parse(text)
    } catch {
      throw new ApiError(response.status, 'ERR_BAD_RESPONSE', `daemon sent a non-JSON reply: ${text.slice(0, 200)}`)
    }
    throw new ApiError(response.status, error?.code ?? 'ERR_API', error?.message ?? `HTTP ${response.status}`)
  }

  async request<T> (method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown, options: { signal?: AbortSignal, timeoutMs?: number } = {}): Promise<T> {
    const signals = [timeoutSignal(options.timeoutMs ?? DEFAULT_API_TIMEOUT_MS)]
    if (options.signal != null) signals.push(options.signal)
    const response = await this.send(method, path, body, AbortSignal.any(signals))
    if (!response.ok) {
      await this.throwFor(response)
    }
    const text = await response.text()
    let parsed: unknown
    try {
      parsed = text === '' ? undefined : JSON.parse(text)
    } catch {
      throw new ApiError(response.status, 'ERR_BAD_RESPONSE', `daemon sent a non-JSON reply: ${text.slice(0, 200)}`)
    }
    return parsed as T
  }

  async get<T> (path: string, options?: { signal?: AbortSignal, timeoutMs?: number }): Promise<T> {
    return this.request<T>('GET', path, undefined, options)
  }

  async post<T> (path: string, body: unknown = {}, options?: { signal?: AbortSignal, timeoutMs?: number }): Promise<T> {
    return this.request<T>('POST', path, body, options)
  }
}
