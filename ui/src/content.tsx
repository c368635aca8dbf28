import { useEffect, useMemo, useState } from 'preact/hooks'
import type { LiveState } from './live.js'
import { call, formatBytes, getContent, shortId, upload } from './api.js'
import { LineChart } from './chart.js'

interface Item { cid: string, kind: string, size: number, blocks: number, name: string | null, addedAt: string }
interface Stats { ratePerMinute: number, floor: number, lastCountedHolders: number | null }

/** Demand and counted replicas for one item: sampled every few seconds while it is selected */
const STATS_INTERVAL_MS = 5000

function shareLink (cid: string, addrs: string[]): string {
  const hint = addrs.find(a => !a.includes('/ip6/')) ?? addrs[0]
  return `kizuna://${cid}${hint != null ? `?hint=${encodeURIComponent(hint)}` : ''}`
}

function CopyButton ({ text, label }: { text: string, label: string }) {
  const [copied, setCopied] = useState(false)
  return (
    <button type="button" aria-label={label} onClick={() => {
      void navigator.clipboard?.writeText(text).then(() => { setCopied(true); setTimeout(() => { setCopied(false) }, 1500) }, () => {})
    }}>{copied ? 'Copied' : 'Copy link'}</button>
  )
}

function ItemHistory ({ item }: { item: Item }) {
  const [points, setPoints] = useState<Array<{ t: number, demand: number, holders: number }>>([])
  useEffect(() => {
    setPoints([])
    let stopped = false
    const sample = (): void => {
      call<Stats>('GET', `/stats/${item.cid}`).then(s => {
        if (!stopped) setPoints(p => [...p, { t: Date.now() / 1000, demand: s.ratePerMinute, holders: s.lastCountedHolders ?? 0 }].slice(-360))
      }, () => {})
    }
    sample()
    const timer = setInterval(sample, STATS_INTERVAL_MS)
    return () => { stopped = true; clearInterval(timer) }
  }, [item.cid])
  const data = useMemo(() => [points.map(p => p.t), points.map(p => p.demand), points.map(p => p.holders)], [points])
  return <LineChart title={`Demand (requests/min) and counted replicas of ${item.name ?? shortId(item.cid)}`} series={[{ label: 'demand/min', stroke: '#e8590c' }, { label: 'replicas', stroke: '#2f9e44' }]} data={data} yFormat={v => v.toFixed(1)} height={180} />
}

export function ContentPage ({ live }: { live: LiveState }) {
  const [items, setItems] = useState<Item[]>([])
  const [selected, setSelected] = useState<string | null>(null)
  const [file, setFile] = useState<File | null>(null)
  const [encrypt, setEncrypt] = useState(false)
  const [uploadState, setUploadState] = useState<{ text: string, link?: string, cid?: string }>({ text: '' })
  const [target, setTarget] = useState('')
  const [pin, setPin] = useState(true)
  const [getState, setGetState] = useState('')
  const [error, setError] = useState('')
  const addrs = live.status?.addrs ?? []

  useEffect(() => {
    call<Item[]>('GET', '/ls').then(setItems, (err: Error) => { setError(err.message) })
  }, [live.contentVersion])

  const onUpload = async (e: Event): Promise<void> => {
    e.preventDefault()
    if (file == null) return
    setUploadState({ text: `Uploading ${file.name}…` })
    try {
      for await (const event of upload<{ type: string, bytes?: number, totalBytes?: number, cid?: string, link?: string }>(file, { encrypt })) {
        if (event.type === 'add:progress') setUploadState({ text: `Adding ${file.name}: ${formatBytes(event.bytes ?? 0)} of ${formatBytes(event.totalBytes ?? 0)}` })
        if (event.type === 'add:done') setUploadState({ text: `Added ${file.name}`, link: event.link, cid: event.cid })
      }
    } catch (err) {
      setUploadState({ text: `Upload failed: ${(err as Error).message}` })
    }
  }

  const onGet = async (e: Event): Promise<void> => {
    e.preventDefault()
    if (target.trim() === '') return
    setGetState('Searching for providers…')
    try {
      for await (const event of getContent<{ type: string, bytesDone?: number, totalBytes?: number, size?: number }>(target.trim(), pin)) {
        if (event.type === 'get:progress') setGetState(`Fetching: ${formatBytes(event.bytesDone ?? 0)}${event.totalBytes != null ? ` of ${formatBytes(event.totalBytes)}` : ''}`)
        if (event.type === 'get:done') setGetState(`Got ${formatBytes(event.size ?? 0)}`)
      }
    } catch (err) {
      setGetState(`Get failed: ${(err as Error).message}`)
    }
  }

  const remove = async (item: Item): Promise<void> => {
    if (!window.confirm(`Remove ${item.name ?? item.cid} from this node?`)) return
    try { await call('POST', '/rm', { cid: item.cid }) } catch (err) { setError((err as Error).message) }
  }

  const chosen = items.find(i => i.cid === selected)
  return (
    <section aria-labelledby="content-h">
      <h2 id="content-h">Content</h2>
      <div class="cards">
        <form class="card" onSubmit={e => { void onUpload(e) }} aria-labelledby="upload-h">
          <h3 id="upload-h">Add a file</h3>
          <label for="upload-file">File</label>
          <input id="upload-file" type="file" onChange={e => { setFile((e.target as HTMLInputElement).files?.[0] ?? null) }} />
          <label class="check"><input type="checkbox" checked={encrypt} onChange={e => { setEncrypt((e.target as HTMLInputElement).checked) }} /> Encrypt (the key goes only into the link)</label>
          <button type="submit" disabled={file == null}>Add</button>
          <p role="status" data-testid="upload-status">{uploadState.text}</p>
          {uploadState.link != null && <p class="link"><code data-testid="upload-link">{uploadState.link}</code> <CopyButton text={uploadState.link} label="Copy the new share link" /></p>}
        </form>
        <form class="card" onSubmit={e => { void onGet(e) }} aria-labelledby="get-h">
          <h3 id="get-h">Get by link</h3>
          <label for="get-target">CID or kizuna:// link</label>
          <input id="get-target" type="text" value={target} onInput={e => { setTarget((e.target as HTMLInputElement).value) }} placeholder="kizuna://bafy…" />
          <label class="check"><input type="checkbox" checked={pin} onChange={e => { setPin((e.target as HTMLInputElement).checked) }} /> Pin (keep it)</label>
          <button type="submit">Get</button>
          <p role="status" data-testid="get-status">{getState}</p>
        </form>
      </div>
      {error !== '' && <p role="alert" class="error">{error}</p>}
      <h3 id="items-h">Kept here ({items.length})</h3>
      <div class="table-wrap">
        <table aria-labelledby="items-h" data-testid="content-table">
          <thead><tr><th scope="col">Name</th><th scope="col">Kind</th><th scope="col">Size</th><th scope="col">CID</th><th scope="col">Actions</th></tr></thead>
          <tbody>
            {items.length === 0 && <tr><td colSpan={5}>Nothing kept yet.</td></tr>}
            {items.map(item => (
              <tr key={item.cid} data-cid={item.cid} class={selected === item.cid ? 'selected' : ''}>
                <td><button type="button" class="linkish" onClick={() => { setSelected(item.cid) }} aria-label={`Show demand and replicas of ${item.name ?? item.cid}`}>{item.name ?? '(unnamed)'}</button></td>
                <td>{item.kind}</td>
                <td>{formatBytes(item.size)}</td>
                <td><code title={item.cid}>{shortId(item.cid)}</code></td>
                <td class="actions">
                  <CopyButton text={shareLink(item.cid, addrs)} label={`Copy share link of ${item.name ?? item.cid}`} />
                  <button type="button" onClick={() => { void remove(item) }} aria-label={`Remove ${item.name ?? item.cid}`}>Remove</button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {chosen != null && <ItemHistory item={chosen} />}
    </section>
  )
}
