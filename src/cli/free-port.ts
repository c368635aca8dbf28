import { createServer } from 'node:net'
import { DEFAULT_CONFIG, parseApiAddress, type KizunaConfig } from '../node/config.js'

/** `init` tries this many ports upward from a taken default before giving up */
export const PORT_SEARCH_SPAN = 100

export async function portFree (host: string, port: number): Promise<boolean> {
  return await new Promise(resolve => {
    const server = createServer()
    server.once('error', () => { resolve(false) })
    server.listen({ host, port, exclusive: true }, () => { server.close(() => { resolve(true) }) })
  })
}

async function firstFree (host: string, from: number): Promise<number | undefined> {
  for (let port = from; port < Math.min(65536, from + PORT_SEARCH_SPAN); port++) {
    if (await portFree(host, port)) return port
  }
  return undefined
}

/**
 * The default listen and API ports for a new repo, moved up to free ones when another program
 * (or another Kizuna repo's daemon) holds them: a second repo on one machine just works.
 * Returns only the settings that changed, and what it did, for the user.
 */
export async function freeDefaultPorts (): Promise<{ config: Partial<KizunaConfig>, notes: string[] }> {
  const config: Partial<KizunaConfig> = {}
  const notes: string[] = []
  const listen = await Promise.all(DEFAULT_CONFIG.listen.map(async addr => {
    const match = /^\/ip[46]\/([^/]+)\/tcp\/(\d+)$/.exec(addr)
    if (match == null) return addr
    const host = match[1]
    const port = Number(match[2])
    if (await portFree(host, port)) return addr
    const free = await firstFree(host, port + 1)
    if (free === undefined) return addr
    notes.push(`port ${port} is in use: listening on ${free} instead`)
    return addr.replace(`/tcp/${port}`, `/tcp/${free}`)
  }))
  if (listen.some((addr, i) => addr !== DEFAULT_CONFIG.listen[i])) config.listen = listen
  const api = parseApiAddress(DEFAULT_CONFIG.api)
  if (!(await portFree(api.host, api.port))) {
    const free = await firstFree(api.host, api.port + 1)
    if (free !== undefined) {
      config.api = `${api.host}:${free}`
      notes.push(`API port ${api.port} is in use: the API will be on ${config.api}`)
    }
  }
  return { config, notes }
}
