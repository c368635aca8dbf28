import http from 'node:http'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import parsePrometheusTextFormat from 'parse-prometheus-text-format'
import { Testnet } from '../../src/testnet/testnet.js'
import { Repo } from '../../src/node/repo.js'
import { cliJson } from '../helpers/cli-json.js'
import { writeRandomFile } from '../helpers/files.js'
import { waitFor } from '../helpers/wait.js'

interface Family { name: string, type: string, metrics: Array<{ value?: string, labels?: Record<string, string>, buckets?: Record<string, string>, count?: string }> }

async function scrape (url: string, token?: string): Promise<{ status: number, body: string }> {
  return await new Promise((resolve, reject) => {
    http.get(url, { headers: token != null ? { authorization: `Bearer ${token}` } : {} }, response => {
      let body = ''
      response.on('data', chunk => { body += chunk })
      response.on('end', () => { resolve({ status: response.statusCode ?? 0, body }) })
    }).on('error', reject)
  })
}

function value (families: Family[], name: string, labels: Record<string, string> = {}): number {
  const family = families.find(f => f.name === name)
  if (family == null) throw new Error(`no metric ${name}`)
  const metric = family.metrics.find(m => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v))
  return Number(metric?.value ?? 0)
}

describe('Prometheus /metrics on two daemons', () => {
  let testnet: Testnet
  let dir: string
  let metricsUrl = ''

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kizuna-metrics-'))
    testnet = await Testnet.start({
      size: 2,
      mode: 'process',
      bootstrap: 'first',
      // both daemons also get the tokenless listener (off by default)
      extraArgs: ['--metrics', '127.0.0.1:0'],
      onLine: (index, line) => { if (index === 1 && line.startsWith('metrics: ')) metricsUrl = line.slice('metrics: '.length) }
    })
  })

  afterAll(async () => {
    await testnet?.stop()
    await rm(dir, { recursive: true, force: true })
  })

  it('parses, needs the token on the API address, and its byte counters move by what a get moved', async () => {
    const [publisher, downloader] = testnet.members
    const apiOf = async (repo: string): Promise<{ url: string, token: string }> => {
      const r = new Repo(repo)
      return { url: `http://${(await r.readDaemonInfo())!.api}/metrics`, token: await r.apiToken() }
    }
    const pub = await apiOf(publisher.repo)
    const down = await apiOf(downloader.repo)
    expect((await scrape(down.url)).status).toBe(401)

    const read = async (target: { url: string, token: string }): Promise<Family[]> => {
      const { status, body } = await scrape(target.url, target.token)
      expect(status).toBe(200)
      return parsePrometheusTextFormat(body) as Family[]
    }
    const before = { pub: await read(pub), down: await read(down) }
    // process metrics, libp2p's own, and ours all present
    const names = new Set(before.down.map(f => f.name))
    for (const name of ['process_cpu_user_seconds_total', 'nodejs_heap_size_used_bytes', 'libp2p_data_transfer_bytes_total', 'kizuna_content_bytes_total', 'kizuna_peers', 'kizuna_get_duration_seconds', 'kizuna_stored_bytes', 'kizuna_peer_evictions_total']) {
      expect(names, name).toContain(name)
    }
    await waitFor(async () => value(await read(down), 'kizuna_peers', { state: 'connected' }) >= 1, { timeoutMs: 30_000, message: 'a connection' })

    const file = join(dir, 'data.bin')
    await writeRandomFile(file, 3 * 1024 * 1024 + 17)
    const added = await cliJson(publisher, 'add', file)
    const got = await cliJson(downloader, 'get', added.cid)
    expect(got.bytesFetched).toBeGreaterThan(3 * 1024 * 1024)

    const after = { pub: await read(pub), down: await read(down) }
    const downDelta = value(after.down, 'kizuna_content_bytes_total', { direction: 'down' }) - value(before.down, 'kizuna_content_bytes_total', { direction: 'down' })
    expect(downDelta).toBe(got.bytesFetched)
    const upDelta = value(after.pub, 'kizuna_content_bytes_total', { direction: 'up' }) - value(before.pub, 'kizuna_content_bytes_total', { direction: 'up' })
    expect(upDelta).toBeGreaterThanOrEqual(got.bytesFetched)
    // libp2p counted at least those bytes on our exchange protocol's streams
    const exchange = after.down.find(f => f.name === 'libp2p_data_transfer_bytes_total')!.metrics
      .filter(m => /^\/kizuna\/.*received$/.test(m.labels?.protocol ?? ''))
      .reduce((sum, m) => sum + Number(m.value), 0)
    expect(exchange).toBeGreaterThanOrEqual(got.bytesFetched)
    // one get observed by the histogram
    const histogram = after.down.find(f => f.name === 'kizuna_get_duration_seconds')!
    expect(histogram.type).toBe('HISTOGRAM')
    // (this parser drops a histogram's labels; the only series is outcome="ok")
    expect(histogram.metrics.map(m => Number(m.buckets?.['+Inf']))).toEqual([1])
    expect(value(after.down, 'kizuna_blocks_fetched_total')).toBeGreaterThan(0)
    expect(value(after.pub, 'kizuna_blocks_served_total')).toBeGreaterThan(value(before.pub, 'kizuna_blocks_served_total'))
    expect(value(after.pub, 'kizuna_stored_bytes', { kind: 'pinned' })).toBeGreaterThan(3 * 1024 * 1024)

    // the --metrics listener answers without a token, with the same registry
    expect(metricsUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/)
    const open = await scrape(metricsUrl)
    expect(open.status).toBe(200)
    const families = parsePrometheusTextFormat(open.body) as Family[]
    expect(value(families, 'kizuna_content_bytes_total', { direction: 'down' })).toBe(value(after.down, 'kizuna_content_bytes_total', { direction: 'down' }))
  })
})
