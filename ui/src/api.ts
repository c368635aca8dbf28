/** The daemon's API, called with the session cookie (same origin); the token never reaches this page */
export const API = '/api/v0'

export class ApiFailure extends Error {
  constructor (readonly status: number, readonly code: string, message: string) {
    super(message)
  }
}

async function failure (response: Response): Promise<ApiFailure> {
  let body: { code?: string, message?: string } = {}
  try { body = await response.json() } catch {}
  return new ApiFailure(response.status, body.code ?? `HTTP_${response.status}`, body.message ?? response.statusText)
}

export async function call<T> (method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
  const response = await fetch(`${API}${path}`, {
    method,
    credentials: 'same-origin',
    headers: body !== undefined ? { 'content-type': 'application/json' } : {},
    body: body !== undefined ? JSON.stringify(body) : undefined
  })
  if (!response.ok) throw await failure(response)
  return await response.json() as T
}

/** A long operation's newline-delimited JSON progress events; an in-band error line throws */
export async function * stream<T> (response: Response): AsyncGenerator<T> {
  if (!response.ok) throw await failure(response)
  const reader = response.body!.getReader()
  const decoder = new TextDecoder()
  let buffered = ''
  while (true) {
    const { done, value } = await reader.read()
    if (done) break
    buffered += decoder.decode(value, { stream: true })
    let newline = buffered.indexOf('\n')
    while (newline >= 0) {
      const line = buffered.slice(0, newline).trim()
      buffered = buffered.slice(newline + 1)
      if (line !== '') {
        const event = JSON.parse(line)
        if (event.type === 'error') throw new ApiFailure(200, event.code, event.message)
        yield event as T
      }
      newline = buffered.indexOf('\n')
    }
  }
}

export async function * upload<T> (file: File, options: { encrypt: boolean }): AsyncGenerator<T> {
  const query = new URLSearchParams({ name: file.name })
  if (options.encrypt) query.set('encrypt', '1')
  const response = await fetch(`${API}/upload?${query.toString()}`, {
    method: 'POST', credentials: 'same-origin', headers: { 'content-type': 'application/octet-stream' }, body: file
  })
  yield * stream<T>(response)
}

export async function * getContent<T> (target: string, pin: boolean): AsyncGenerator<T> {
  const response = await fetch(`${API}/get`, {
    method: 'POST', credentials: 'same-origin', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ target, pin })
  })
  yield * stream<T>(response)
}

export function formatBytes (bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let value = bytes
  let unit = 0
  while (value >= 1024 && unit < units.length - 1) { value /= 1024; unit++ }
  return `${value.toFixed(unit === 0 ? 0 : 1)} ${units[unit]}`
}

export function ago (ms: number | null | undefined, now = Date.now()): string {
  if (ms == null) return 'never'
  const s = Math.max(0, Math.round((now - ms) / 1000))
  if (s < 60) return `${s} s ago`
  if (s < 3600) return `${Math.floor(s / 60)} min ago`
  return `${Math.floor(s / 3600)} h ago`
}

export function shortId (id: string): string {
  return id.length > 16 ? `${id.slice(0, 8)}…${id.slice(-6)}` : id
}
