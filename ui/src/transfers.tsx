import { useMemo, useState } from 'preact/hooks'
import type { LiveState, Transfer } from './live.js'
import { formatBytes, shortId } from './api.js'
import { LineChart } from './chart.js'
import { ProvidersChart } from './providers-chart.js'

const rate = (v: number): string => `${formatBytes(v)}/s`
const MIN_RATE_SPAN_S = 0.5

function percent (t: Transfer): number {
  if (t.state === 'done') return 100
  if (t.totalBytes == null || t.totalBytes === 0) return 0
  return Math.min(100, Math.floor(t.bytesDone / t.totalBytes * 100))
}

function name (t: Transfer): string {
  return t.kind === 'add' ? (t.label.split('/').pop() ?? t.label) : shortId(t.cid ?? t.label)
}

function averageRate (t: Transfer): number {
  const seconds = Math.max(0.001, ((t.endedAt ?? Date.now()) - t.startedAt) / 1000)
  return t.bytesDone / seconds
}

/** Rate over time of one transfer, from the progress points the live feed collected */
function TransferRate ({ points }: { points: Array<[number, number]> }) {
  const data = useMemo(() => {
    const xs: number[] = []
    const ys: number[] = []
    // updates arrive in bursts (the final one a few ms after the last progress): a rate is taken
    // over at least MIN_RATE_SPAN_S, or a burst would read as a spike of hundreds of MiB/s
    let from = points[0]
    let segmentStart = points[0]
    for (const point of points.slice(1)) {
      const dt = point[0] - from[0]
      if (dt < MIN_RATE_SPAN_S) continue
      xs.push(point[0])
      ys.push(Math.max(0, (point[1] - from[1]) / dt))
      segmentStart = from
      from = point
    }
    // the last updates (often the final 100%) fold into the last span rather than vanish
    const end = points[points.length - 1]
    if (end != null && end !== from) {
      const start = xs.length > 0 ? segmentStart : from
      if (xs.length > 0) { xs.pop(); ys.pop() }
      const dt = end[0] - start[0]
      if (dt > 0) { xs.push(end[0]); ys.push(Math.max(0, (end[1] - start[1]) / dt)) }
    }
    return [xs, ys]
  }, [points])
  return <LineChart title="Rate of the selected transfer" series={[{ label: 'rate', stroke: '#7b3fe4' }]} data={data} yFormat={rate} height={160} />
}

export function TransfersPage ({ live }: { live: LiveState }) {
  const [selected, setSelected] = useState<number | null>(null)
  const data = useMemo(() => [live.bandwidth.map(s => s.t / 1000), live.bandwidth.map(s => s.up), live.bandwidth.map(s => s.down)], [live.bandwidth])
  const last = live.bandwidth[live.bandwidth.length - 1]
  const chosen = live.transfers.find(t => t.id === selected)
  return (
    <section aria-labelledby="transfers-h">
      <h2 id="transfers-h">Transfers</h2>
      <p class="rates" aria-live="off">Now: <strong data-testid="rate-up">↑ {rate(last?.up ?? 0)}</strong> <strong data-testid="rate-down">↓ {rate(last?.down ?? 0)}</strong></p>
      <LineChart title="Node upload and download rate, last 10 minutes" series={[{ label: 'upload', stroke: '#d9480f' }, { label: 'download', stroke: '#1971c2' }]} data={data} yFormat={rate} />
      <h3 id="list-h">Running and recent</h3>
      <div class="table-wrap">
        <table aria-labelledby="list-h" data-testid="transfers-table">
          <thead><tr><th scope="col">Kind</th><th scope="col">Content</th><th scope="col">Progress</th><th scope="col">Size</th><th scope="col">Rate</th><th scope="col">Providers</th><th scope="col">State</th></tr></thead>
          <tbody>
            {live.transfers.length === 0 && <tr><td colSpan={7}>No transfers yet: gets and adds (from here or the CLI) appear as they start.</td></tr>}
            {live.transfers.map(t => (
              <tr key={t.id} data-transfer={t.id} data-cid={t.cid ?? ''} data-state={t.state} data-percent={percent(t)} aria-selected={selected === t.id} class={selected === t.id ? 'selected' : ''}>
                <td>{t.kind}</td>
                <td><button type="button" class="linkish" onClick={() => { setSelected(t.id) }} title={t.cid ?? t.label}>{name(t)}</button></td>
                <td><progress max={100} value={percent(t)} aria-label={`${name(t)} progress`} /> <span class="pct">{percent(t)}%</span></td>
                <td>{t.totalBytes != null ? formatBytes(t.totalBytes) : '?'}</td>
                <td>{rate(averageRate(t))}</td>
                <td>{t.providers.length > 0 ? t.providers.map(p => <div key={p.peerId}><code title={p.peerId}>{shortId(p.peerId)}</code> {formatBytes(p.bytes)}</div>) : (t.kind === 'get' ? `${t.peers} peers` : '–')}</td>
                <td>{t.state}{t.error != null ? `: ${t.error}` : ''}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {chosen != null && <TransferRate points={live.progress[chosen.id] ?? []} />}
      <ProvidersChart transfers={live.transfers} />
    </section>
  )
}
