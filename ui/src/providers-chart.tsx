import type { Transfer } from './live.js'
import { formatBytes, shortId } from './api.js'

/** Gets shown in the chart: the running ones and the most recent finished ones, newest first */
export const PROVIDER_CHART_GETS = 8
const PALETTE = ['#1971c2', '#d9480f', '#2f9e44', '#7b3fe4', '#e8590c', '#0c8599', '#c2255c', '#5c940d', '#862e9c', '#495057']

/** A provider keeps its colour from one get to the next: colour by its peer ID, not its rank */
function colour (peerId: string): string {
  let h = 0
  for (let i = 0; i < peerId.length; i++) h = (h * 31 + peerId.charCodeAt(i)) >>> 0
  return PALETTE[h % PALETTE.length]
}

/**
 * Providers used by each get and the bytes each served: one bar per get, one segment per
 * provider, widths in proportion to bytes (all bars share one scale, so bars compare). Plain
 * HTML rather than SVG: labels stay readable at a phone's width.
 * Running gets show what each provider served so far.
 */
export function ProvidersChart ({ transfers }: { transfers: Transfer[] }) {
  const gets = transfers.filter(t => t.kind === 'get' && t.providers.length > 0)
    .sort((a, b) => Number(b.state === 'running') - Number(a.state === 'running') || b.startedAt - a.startedAt)
    .slice(0, PROVIDER_CHART_GETS)
  const title = 'Providers used by each get and the bytes each served'
  if (gets.length === 0) {
    return <figure class="chart" data-testid="providers-chart"><figcaption>{title}</figcaption><p>No get has fetched from a provider yet.</p></figure>
  }
  const max = Math.max(1, ...gets.map(t => t.providers.reduce((sum, p) => sum + p.bytes, 0)))
  const peers = new Map<string, number>()
  for (const t of gets) for (const p of t.providers) peers.set(p.peerId, (peers.get(p.peerId) ?? 0) + p.bytes)
  const summary = gets.map(t => `${shortId(t.cid ?? t.label)}: ${t.providers.map(p => `${shortId(p.peerId)} ${formatBytes(p.bytes)}`).join(', ')}`).join('; ')
  return (
    <figure class="chart" data-testid="providers-chart">
      <figcaption>{title}</figcaption>
      <div class="provider-bars" role="img" aria-label={`${title}. ${summary}`}>
        {gets.map(t => (
          <div key={t.id} class="provider-row" data-cid={t.cid ?? ''} data-state={t.state}>
            <span class="provider-label"><code title={t.cid ?? t.label}>{shortId(t.cid ?? t.label)}</code>{t.state === 'running' ? ' …' : ''}</span>
            <span class="provider-track">
              {t.providers.map(p => (
                <span key={p.peerId} class="provider-seg" data-peer={p.peerId} data-bytes={p.bytes} data-share={p.bytes / max}
                  style={{ width: `${(p.bytes / max * 100).toFixed(3)}%`, background: colour(p.peerId) }}
                  title={`${p.peerId}: ${formatBytes(p.bytes)} in ${p.blocks} blocks`} />
              ))}
            </span>
          </div>
        ))}
      </div>
      <ul class="legend" aria-label="Providers in the chart">
        {[...peers].map(([peerId, bytes]) => (
          <li key={peerId}><span class="swatch" style={{ background: colour(peerId) }} aria-hidden="true" /><code title={peerId}>{shortId(peerId)}</code> {formatBytes(bytes)}</li>
        ))}
      </ul>
    </figure>
  )
}
