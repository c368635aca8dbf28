import type { NatConfig } from '../nat/nat-config.js'
import { readFile } from 'node:fs/promises'
import { multiaddr } from '@multiformats/multiaddr'
import { ConfigError, KizunaError } from '../errors.js'

export type { NatConfig, Reachability } from '../nat/nat-config.js'

/** On-disk node configuration (`config.json` in the repo). Times are in seconds. */
export interface KizunaConfig {
  /** Multiaddrs to listen on */
  listen: string[]
  /** Multiaddrs (with /p2p/ID) of peers to join through */
  bootstrap: string[]
  /** HOST:PORT of the local HTTP API; the host must be a loopback address */
  api: string
  /** Discover peers on the LAN with mDNS */
  mdns: boolean
  /** A peer silent for this long is evicted from the routing table and the peer view */
  peerTimeout: number
  /** Seconds between liveness rounds (pings to every known peer) */
  refreshInterval: number
  /** How long one ping may take before it counts as unanswered */
  pingTimeout: number
  /** How long one dial may take */
  dialTimeout: number
  /** Random-key lookups done while joining, to fill the routing table beyond the bootstrap peer */
  joinLookups: number
  /** Live copies `add` keeps in the network unless --replicas says otherwise (1 = only ours) */
  replicas: number
  /** Bytes of cached content (copies held for others, unpinned downloads) this node keeps */
  cacheBytes: number
  /** Of the cache, bytes of floor copies (kept for others' --replicas) this node holds; 0: a quarter of cacheBytes */
  floorBytes: number
  /** Demand-driven replication on or off */
  replication: boolean
  /** Seconds between replication rounds (demand check, floor repair, ageing) */
  replicationInterval: number
  /** A cached copy nobody asked for in this many seconds ages out */
  cacheIdleTimeout: number
  /** Requests per minute above which a holder recruits more holders */
  hotDemand: number
  /** Seconds for the demand estimate to halve once requests stop */
  demandHalfLife: number
  limits: {
    maxConnections: number
    /** New inbound connections accepted per second from one IP (loopback swarms share one IP) */
    inboundConnectionsPerIpPerSecond: number
  }
  /** NAT traversal (docs/nat.md) */
  nat: NatConfig
  /** Tell a sender when `msg ls` / `msg watch` first showed its message (false: senders see only delivered) */
  readReceipts: boolean
}

export const DEFAULT_CONFIG: KizunaConfig = {
  listen: ['/ip4/0.0.0.0/tcp/4010'],
  bootstrap: [],
  api: '127.0.0.1:5010',
  mdns: true,
  peerTimeout: 180,
  refreshInterval: 30,
  pingTimeout: 10,
  dialTimeout: 10,
  joinLookups: 3,
  replicas: 3,
  cacheBytes: 10 * 1024 * 1024 * 1024,
  floorBytes: 0,
  replication: true,
  replicationInterval: 10,
  cacheIdleTimeout: 600,
  hotDemand: 6,
  demandHalfLife: 60,
  limits: {
    maxConnections: 300,
    inboundConnectionsPerIpPerSecond: 5
  },
  nat: {
    quic: true,
    upnp: true,
    autonat: true,
    holePunching: true,
    reachability: 'auto',
    dhtMode: 'auto',
    relayReservations: 2,
    relay: {
      enabled: true,
      maxReservations: 32,
      reservationTtl: 3600,
      durationLimit: 120,
      // libp2p's default: enough for HAVE queries, identify and hole-punch signalling
      dataLimit: 128 * 1024,
      bulkBytes: 0
    }
  },
  readReceipts: true
}

type Check = (value: unknown, field: string) => void

const positiveNumber: Check = (value, field) => {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new ConfigError(field, `must be a positive number, got ${JSON.stringify(value)}`)
  }
}

const wholeNumber: Check = (value, field) => {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
    throw new ConfigError(field, `must be a whole number ≥ 0, got ${JSON.stringify(value)}`)
  }
}

const boolean: Check = (value, field) => {
  if (typeof value !== 'boolean') {
    throw new ConfigError(field, `must be true or false, got ${JSON.stringify(value)}`)
  }
}

const multiaddrList: Check = (value, field) => {
  if (!Array.isArray(value)) {
    throw new ConfigError(field, `must be an array of multiaddr strings, got ${JSON.stringify(value)}`)
  }
  value.forEach((item, i) => {
    if (typeof item !== 'string') {
      throw new ConfigError(`${field}[${i}]`, `must be a multiaddr string, got ${JSON.stringify(item)}`)
    }
    try {
      multiaddr(item)
    } catch (err) {
      throw new ConfigError(`${field}[${i}]`, `invalid multiaddr "${item}": ${(err as Error).message}`)
    }
  })
}

const apiAddress: Check = (value, field) => {
  if (typeof value !== 'string') {
    throw new ConfigError(field, `must be "HOST:PORT", got ${JSON.stringify(value)}`)
  }
  parseApiAddress(value, field)
}

/** Parses HOST:PORT and insists on loopback: the API is a local control channel, never a public one. */
export function parseApiAddress (value: string, field = 'api'): { host: string, port: number } {
  const match = /^(.+):(\d{1,5})$/.exec(value)
  if (match == null) {
    throw new ConfigError(field, `must be "HOST:PORT", got ${JSON.stringify(value)}`)
  }
  const host = match[1].replace(/^\[(.*)\]$/, '$1')
  const port = Number(match[2])
  if (port > 65535) {
    throw new ConfigError(field, `port ${port} is out of range`)
  }
  if (!/^127\.\d+\.\d+\.\d+$/.test(host) && host !== '::1' && host !== 'localhost') {
    throw new ConfigError(field, `host must be a loopback address (127.0.0.0/8, ::1 or localhost), got "${host}"`)
  }
  return { host, port }
}

const oneOf = (...allowed: string[]): Check => (value, field) => {
  if (typeof value !== 'string' || !allowed.includes(value)) {
    throw new ConfigError(field, `must be one of ${allowed.map(a => `"${a}"`).join(', ')}, got ${JSON.stringify(value)}`)
  }
}

/** The live copies `add --replicas N` may ask for: 1 (only ours) up to this many */
export const MIN_REPLICAS = 1
export const MAX_REPLICAS = 64

export function isReplicaCount (value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= MIN_REPLICAS && value <= MAX_REPLICAS
}

const SCHEMA: Record<string, Check> = {
  listen: multiaddrList,
  bootstrap: multiaddrList,
  api: apiAddress,
  mdns: boolean,
  peerTimeout: positiveNumber,
  refreshInterval: positiveNumber,
  pingTimeout: positiveNumber,
  dialTimeout: positiveNumber,
  joinLookups: wholeNumber,
  replicas: (value, field) => {
    wholeNumber(value, field)
    if (!isReplicaCount(value)) throw new ConfigError(field, `must be between ${MIN_REPLICAS} and ${MAX_REPLICAS}`)
  },
  cacheBytes: wholeNumber,
  floorBytes: wholeNumber,
  replication: boolean,
  replicationInterval: positiveNumber,
  cacheIdleTimeout: positiveNumber,
  hotDemand: positiveNumber,
  demandHalfLife: positiveNumber,
  'limits.maxConnections': positiveNumber,
  'limits.inboundConnectionsPerIpPerSecond': positiveNumber,
  'nat.quic': boolean,
  'nat.upnp': boolean,
  'nat.autonat': boolean,
  'nat.holePunching': boolean,
  'nat.reachability': oneOf('auto', 'public', 'private'),
  'nat.dhtMode': oneOf('auto', 'server', 'client'),
  'nat.relayReservations': (value, field) => {
    wholeNumber(value, field)
    if ((value as number) > 8) throw new ConfigError(field, 'must be between 0 and 8')
  },
  'nat.relay.enabled': boolean,
  'nat.relay.maxReservations': wholeNumber,
  'nat.relay.reservationTtl': positiveNumber,
  'nat.relay.durationLimit': positiveNumber,
  'nat.relay.dataLimit': positiveNumber,
  'nat.relay.bulkBytes': wholeNumber,
  readReceipts: boolean
}

/** Nested config objects, validated field by field like the root */
const SECTIONS = new Set(['limits', 'nat', 'nat.relay'])

function isPlainObject (value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/**
 * Validates a parsed config, filling absent fields with defaults. Unknown fields are an error
 * so a typo ("peertimeout") does not silently fall back to the default.
 */
export function validateConfig (input: unknown): KizunaConfig {
  if (!isPlainObject(input)) {
    throw new ConfigError('(root)', 'must be a JSON object')
  }
  const merged: Record<string, unknown> = structuredClone(DEFAULT_CONFIG) as unknown as Record<string, unknown>
  mergeSection(merged, input, '')
  return merged as unknown as KizunaConfig
}

function mergeSection (target: Record<string, unknown>, input: Record<string, unknown>, prefix: string): void {
  for (const [key, value] of Object.entries(input)) {
    const field = `${prefix}${key}`
    if (SECTIONS.has(field)) {
      if (!isPlainObject(value)) {
        throw new ConfigError(field, 'must be an object')
      }
      mergeSection(target[key] as Record<string, unknown>, value, `${field}.`)
      continue
    }
    const check = SCHEMA[field]
    if (check == null) {
      throw new ConfigError(field, 'is not a known setting')
    }
    check(value, field)
    target[key] = value
  }
}

export async function loadConfig (path: string): Promise<KizunaConfig> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    throw new KizunaError('ERR_CONFIG_UNREADABLE', `cannot read config ${path}: ${(err as Error).message}`, { cause: err })
  }
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch (err) {
    throw new ConfigError('(file)', `${path} is not valid JSON (corrupt or half-written?): ${(err as Error).message}`)
  }
  return validateConfig(parsed)
}
