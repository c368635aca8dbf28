import type { LiveState, Peer } from './live.js'
import { ago, shortId } from './api.js'

function SwarmGraph ({ self, peers }: { self: string, peers: Peer[] }) {
  const size = 320
  const c = size / 2
  const r = size / 2 - 36
  const shown = peers.slice(0, 64)
  return (
    <svg class="swarm" viewBox={`0 0 ${size} ${size}`} role="img" aria-label={`Swarm graph: this node and ${peers.length} known peers, ${peers.filter(p => p.connected).length} connected`}>
      {shown.map((p, i) => {
        const a = (2 * Math.PI * i) / Math.max(1, shown.length) - Math.PI / 2
        const x = c + r * Math.cos(a)
        const y = c + r * Math.sin(a)
        return (
          <g key={p.peerId}>
            <line x1={c} y1={c} x2={x} y2={y} class={p.connected ? 'edge connected' : 'edge known'} />
            <circle cx={x} cy={y} r={9} class={p.connected ? 'peer connected' : 'peer known'}><title>{`${p.peerId} (${p.connected ? 'connected' : 'known'}${p.rttMs != null ? `, ${p.rttMs} ms` : ''})`}</title></circle>
            <text x={x} y={y + 22} text-anchor="middle" class="label">{p.peerId.slice(-4)}</text>
          </g>
        )
      })}
      <circle cx={c} cy={c} r={14} class="self"><title>{`this node ${self}`}</title></circle>
      <text x={c} y={c + 30} text-anchor="middle" class="label">you</text>
    </svg>
  )
}

export function NetworkPage ({ live }: { live: LiveState }) {
  const s = live.status
  const now = Date.now()
  return (
    <section aria-labelledby="network-h">
      <h2 id="network-h">Network</h2>
      <div class="cards">
        <article class="card" aria-label="This node">
          <h3>This node</h3>
          <dl>
            <dt>Peer ID</dt><dd><code data-testid="self-id">{s?.peerId ?? '…'}</code></dd>
            <dt>Addresses</dt><dd>{(s?.addrs ?? []).map(a => <div key={a}><code>{a}</code></div>)}</dd>
            <dt>Peers</dt><dd><span data-testid="peers-known">{s?.peers.known ?? 0}</span> known, <span data-testid="peers-connected">{s?.peers.connected ?? 0}</span> connected</dd>
            <dt>Routing table</dt><dd>{s?.routingTableSize ?? 0} entries</dd>
            <dt>Uptime</dt><dd>{s != null ? `${Math.floor(s.uptimeSeconds / 60)} min ${s.uptimeSeconds % 60} s` : '…'}</dd>
            <dt>Reachability</dt><dd data-testid="reachability">{s?.nat != null
              ? `${s.nat.reachability}; DHT ${s.nat.dhtMode}${s.nat.relays.length > 0 ? `; via ${s.nat.relays.length} relay(s)` : ''}${s.nat.relayServer.enabled ? `; relaying for ${s.nat.relayServer.reservations}` : ''}`
              : 'not reported'}</dd>
          </dl>
        </article>
        <article class="card" aria-label="Swarm graph">
          <h3>Swarm this node sees</h3>
          {s != null && <SwarmGraph self={s.peerId} peers={live.peers} />}
          <p class="legend"><span class="dot connected" /> connected <span class="dot known" /> known, not connected</p>
        </article>
      </div>
      <h3 id="peers-h">Peers ({live.peers.length})</h3>
      <div class="table-wrap">
        <table aria-labelledby="peers-h" data-testid="peers-table">
          <thead><tr><th scope="col">Peer</th><th scope="col">State</th><th scope="col">RTT</th><th scope="col">Last seen</th><th scope="col">Source</th></tr></thead>
          <tbody>
            {live.peers.length === 0 && <tr><td colSpan={5}>No peers yet.</td></tr>}
            {live.peers.map(p => (
              <tr key={p.peerId} data-peer={p.peerId}>
                <td><code title={p.peerId}>{shortId(p.peerId)}</code></td>
                <td>{p.connected ? 'connected' : 'known'}</td>
                <td>{p.rttMs != null ? `${p.rttMs} ms` : '–'}</td>
                <td>{ago(p.lastSeen != null ? Date.parse(p.lastSeen) : null, now)}</td>
                <td>{p.source}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <h3 id="feed-h">Joins and evictions</h3>
      <ol class="feed" aria-labelledby="feed-h" aria-live="polite" data-testid="peer-feed">
        {live.feed.length === 0 && <li>Nothing yet: peers joining and being evicted appear here as it happens.</li>}
        {live.feed.map(item => (
          <li key={`${item.at}-${item.peerId}-${item.kind}`} class={item.kind} data-kind={item.kind} data-peer={item.peerId}>
            <time dateTime={new Date(item.at).toISOString()}>{new Date(item.at).toLocaleTimeString()}</time>{' '}
            <strong>{item.kind === 'joined' ? 'joined' : 'evicted'}</strong> <code title={item.peerId}>{shortId(item.peerId)}</code> {item.detail}
          </li>
        ))}
      </ol>
    </section>
  )
}
