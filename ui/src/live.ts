import { useEffect, useState } from 'preact/hooks'
import { API, call } from './api.js'

export interface Status {
  peerId: string
  uptimeSeconds: number
  peers: { known: number, connected: number, answeredLastRound: number }
  routingTableSize: number
  addrs: string[]
  uploadedBytes: number
  downloadedBytes: number
  /** present once the NAT service runs (docs/nat.md) */
  nat?: { reachability: string, publicAddrs: string[], dhtMode: string, relays: string[], relayServer: { enabled: boolean, reservations: number }, peers: { direct: number, relayedOnly: number } }
}
export interface Peer { peerId: string, addrs: string[], rttMs: number | null, lastSeen: string | null, source: string, connected: boolean }
export interface Transfer {
  id: number, kind: 'add' | 'get', label: string, cid?: string, state: 'running' | 'done' | 'failed'
  startedAt: number, endedAt?: number, bytesDone: number, totalBytes?: number, peers: number
  providers: Array<{ peerId: string, blocks: number, bytes: number }>, error?: string
}
export interface Sample { t: number, up: number, down: number }
export interface FeedItem { at: number, kind: 'joined' | 'evicted', peerId: string, detail: string }

export interface LiveState {
  connection: 'connecting' | 'live' | 'reconnecting' | 'logged-out'
  status?: Status
  peers: Peer[]
  transfers: Transfer[]
  bandwidth: Sample[]
  feed: FeedItem[]
  /** bumped whenever kept content changed: the Content page reloads its list */
  contentVersion: number
  /** per transfer id: [time, bytes] points for its rate chart */
  progress: Record<number, Array<[number, number]>>
}

const MAX_FEED = 100

function feedItem (kind: 'joined' | 'evicted', at: number, peer: { peerId: string, source?: string, reason?: string }): FeedItem {
  return { at, kind, peerId: peer.peerId, detail: kind === 'joined' ? `via ${peer.source ?? '?'}` : (peer.reason ?? '') }
}
const MAX_SAMPLES = 600
const MAX_PROGRESS_POINTS = 600

/**
 * One EventSource for the whole page: a snapshot, then every change as the daemon sees it.
 * EventSource reconnects by itself (every few seconds), so a restarted daemon is picked up.
 */
export function useLive (): LiveState {
  const [state, setState] = useState<LiveState>({ connection: 'connecting', peers: [], transfers: [], bandwidth: [], feed: [], contentVersion: 0, progress: {} })
  useEffect(() => {
    const source = new EventSource(`${API}/events`, { withCredentials: true })
    const on = <T>(name: string, apply: (s: LiveState, data: T) => LiveState): void => {
      source.addEventListener(name, (evt) => {
        const data = JSON.parse((evt as MessageEvent).data) as T
        setState(s => apply(s, data))
      })
    }
    on<{ status: Status, peers: Peer[], transfers: Transfer[], bandwidth: Sample[], peerEvents: Array<{ type: string, at: number, peer: { peerId: string, source?: string, reason?: string } }> }>('snapshot', (s, d) => ({
      ...s,
      connection: 'live',
      status: d.status,
      peers: d.peers,
      transfers: d.transfers,
      bandwidth: d.bandwidth,
      feed: d.peerEvents.map(e => feedItem(e.type === 'peer:joined' ? 'joined' : 'evicted', e.at, e.peer)),
      contentVersion: s.contentVersion + 1
    }))
    const peerUpdate = (kind?: 'joined' | 'evicted') => (s: LiveState, d: { at: number, peers: Peer[], status: Status, peer?: { peerId: string, source?: string, reason?: string } }): LiveState => {
      const feed = kind != null && d.peer != null ? [feedItem(kind, d.at, d.peer), ...s.feed].slice(0, MAX_FEED) : s.feed
      return { ...s, peers: d.peers, status: d.status, feed }
    }
    on('peer:joined', peerUpdate('joined'))
    on('peer:evicted', peerUpdate('evicted'))
    on('peers:changed', peerUpdate())
    on<{ transfer: Transfer }>('transfer', (s, { transfer }) => {
      const others = s.transfers.filter(t => t.id !== transfer.id)
      const points = [...(s.progress[transfer.id] ?? []), [Date.now() / 1000, transfer.bytesDone] as [number, number]].slice(-MAX_PROGRESS_POINTS)
      return { ...s, transfers: [transfer, ...others].sort((a, b) => b.startedAt - a.startedAt).slice(0, 60), progress: { ...s.progress, [transfer.id]: points } }
    })
    on<{ sample: Sample }>('bandwidth', (s, { sample }) => ({ ...s, bandwidth: [...s.bandwidth, sample].slice(-MAX_SAMPLES) }))
    on('content:changed', (s) => ({ ...s, contentVersion: s.contentVersion + 1 }))
    source.onerror = () => {
      // a 401 closes the stream for good; anything else is a daemon restarting
      call('GET', '/health').then(
        () => { setState(s => ({ ...s, connection: 'reconnecting' })) },
        (err: { status?: number }) => {
          if (err.status === 401) { source.close(); setState(s => ({ ...s, connection: 'logged-out' })) } else setState(s => ({ ...s, connection: 'reconnecting' }))
        })
    }
    return () => { source.close() }
  }, [])
  return state
}
