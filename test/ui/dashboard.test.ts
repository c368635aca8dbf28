import http from 'node:http'
import { copyFile, mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Page } from 'playwright-core'
import { Testnet, type TestnetMember } from '../../src/testnet/testnet.js'
import { Repo } from '../../src/node/repo.js'
import { packageRoot } from '../../src/util/package-root.js'
import { cliJson } from '../helpers/cli-json.js'
import { sha256File, writeRandomFile } from '../helpers/files.js'
import { launchBrowser, type TestBrowser } from '../helpers/browser.js'

const ARTIFACTS = join(packageRoot(), 'test-artifacts', 'dashboard')
const MiB = 1024 * 1024
/** Browser-side waits: generous, the machine is shared */
const UI_WAIT_MS = 60_000

async function request (url: string, headers: Record<string, string> = {}, method = 'GET'): Promise<number> {
  return await new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers }, response => { response.resume(); resolve(response.statusCode ?? 0) })
    req.on('error', reject)
    req.end()
  })
}

describe('the dashboard in a real browser against a 4-daemon testnet', () => {
  let testnet: Testnet
  let browser: TestBrowser
  let page: Page
  let dir: string
  let me: TestnetMember
  let api = ''
  let token = ''
  let otherOrigin: http.Server

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kizuna-ui-'))
    await mkdir(ARTIFACTS, { recursive: true })
    testnet = await Testnet.start({ size: 4, mode: 'process', bootstrap: 'first', peerTimeout: 8 })
    me = testnet.members[0]
    const repo = new Repo(me.repo)
    api = (await repo.readDaemonInfo())!.api
    token = await repo.apiToken()
    browser = await launchBrowser()
    page = await browser.context.newPage()
    // a page on another origin (another port of 127.0.0.1: the "same site" for cookies)
    otherOrigin = http.createServer((_req, res) => { res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>elsewhere</title>') })
    await new Promise<void>(resolve => { otherOrigin.listen(0, '127.0.0.1', resolve) })
  })

  afterAll(async () => {
    await browser?.close()
    otherOrigin?.close()
    await testnet?.stop()
    await rm(dir, { recursive: true, force: true })
  })

  it('logs in through the `kizuna ui` link; the API refuses requests without the cookie or token', async () => {
    const { url } = await cliJson(me, 'ui')
    expect(url).toMatch(new RegExp(`^http://${api.replace(/\./g, '\\.')}/ui/login\\?ticket=[\\w-]+$`))
    expect(url).not.toContain(token)
    await page.goto(url)
    expect(new URL(page.url()).pathname).toBe('/ui/')
    await page.getByTestId('connection').filter({ hasText: 'live' }).waitFor({ timeout: UI_WAIT_MS })
    const cookies = await browser.context.cookies(`http://${api}`)
    const session = cookies.find(c => c.name.startsWith('kizuna_session_'))!
    expect(session.httpOnly).toBe(true)
    expect(session.sameSite).toBe('Strict')
    // the ticket works once
    expect(await request(url)).toBe(401)
    // no cookie, no token: 401; the token alone works; a foreign Host (DNS rebinding) is refused
    expect(await request(`http://${api}/api/v0/status`)).toBe(401)
    expect(await request(`http://${api}/metrics`)).toBe(401)
    expect(await request(`http://${api}/api/v0/status`, { authorization: `Bearer ${token}` })).toBe(200)
    expect(await request(`http://${api}/api/v0/status`, { authorization: `Bearer ${token}`, host: `evil.example:${api.split(':')[1]}` })).toBe(403)
    expect(await request(`http://${api}/api/v0/status`, { cookie: `${session.name}=${session.value}` })).toBe(200)
    expect(await request(`http://${api}/api/v0/status`, { cookie: `${session.name}=${session.value}`, origin: 'http://127.0.0.1:1' })).toBe(403)
  })

  it('another origin cannot call the API, even with the browser holding the session cookie', async () => {
    const elsewhere = await browser.context.newPage()
    await elsewhere.goto(`http://127.0.0.1:${(otherOrigin.address() as { port: number }).port}/`)
    const outcome = await elsewhere.evaluate(async ({ api }) => {
      const read = await fetch(`http://${api}/api/v0/ls`, { credentials: 'include' }).then(r => `status ${r.status}`, () => 'blocked')
      // a "simple" cross-origin write needs no preflight: the server itself must refuse it
      await fetch(`http://${api}/api/v0/stop`, { method: 'POST', mode: 'no-cors', credentials: 'include', headers: { 'content-type': 'text/plain' }, body: '{}' }).catch(() => {})
      return read
    }, { api })
    expect(outcome).toBe('blocked')
    await elsewhere.close()
    // the daemon did not stop
    expect(await request(`http://${api}/api/v0/status`, { authorization: `Bearer ${token}` })).toBe(200)
    expect(me.child!.isRunning).toBe(true)
  })

  it('the network page lists the other three peers', async () => {
    await page.goto(`http://${api}/ui/#/network`)
    for (const peer of testnet.members.slice(1)) {
      await page.locator(`[data-testid="peers-table"] tr[data-peer="${peer.peerId}"]`).waitFor({ timeout: UI_WAIT_MS })
    }
    await page.screenshot({ path: join(ARTIFACTS, 'network.png'), fullPage: true })
  })

  it('a get started from the CLI shows on the transfers page and reaches 100%', async () => {
    await page.goto(`http://${api}/ui/#/transfers`)
    await page.getByRole('heading', { name: 'Transfers' }).waitFor()
    const source = join(dir, 'movie.bin')
    await writeRandomFile(source, 12 * MiB)
    const added = await cliJson(testnet.members[1], 'add', source)
    const got = await cliJson(me, 'get', added.cid) as { providers: Array<{ peerId: string, bytes: number }> }
    const row = page.locator(`[data-testid="transfers-table"] tr[data-cid="${added.cid}"]`)
    await row.and(page.locator('[data-state="done"][data-percent="100"]')).waitFor({ timeout: UI_WAIT_MS })
    expect(await row.locator('.pct').textContent()).toBe('100%')
    // the providers chart: one bar for this get, one segment per provider sized by the bytes it served
    expect(got.providers.map(p => p.peerId)).toContain(testnet.members[1].peerId)
    const bar = page.locator(`[data-testid="providers-chart"] [data-cid="${added.cid}"][data-state="done"]`)
    await bar.waitFor({ timeout: UI_WAIT_MS })
    const segments = await bar.locator('[data-peer]').evaluateAll(els => els.map(el => ({ peerId: el.getAttribute('data-peer'), bytes: Number(el.getAttribute('data-bytes')), width: el.getBoundingClientRect().width })))
    expect(segments.map(({ peerId, bytes }) => ({ peerId, bytes })).sort((x, y) => x.peerId!.localeCompare(y.peerId!)))
      .toEqual(got.providers.map(({ peerId, bytes }) => ({ peerId, bytes })).sort((x, y) => x.peerId.localeCompare(y.peerId)))
    expect(segments.every(s => s.width > 0)).toBe(true)
    expect(segments.reduce((sum, s) => sum + s.bytes, 0)).toBeGreaterThanOrEqual(12 * MiB)
    await row.getByRole('button').click()
    await page.screenshot({ path: join(ARTIFACTS, 'transfers.png'), fullPage: true })
  })

  it('a file uploaded from the content page is added, and its link fetches the same bytes on another node', async () => {
    await page.goto(`http://${api}/ui/#/content`)
    const file = join(dir, 'from-browser.bin')
    const hash = await writeRandomFile(file, 2 * MiB + 5)
    await page.getByLabel('File', { exact: true }).setInputFiles(file)
    await page.getByRole('button', { name: 'Add', exact: true }).click()
    const link = (await page.getByTestId('upload-link').textContent({ timeout: UI_WAIT_MS }))!
    expect(link).toMatch(/^kizuna:\/\/bafy/)
    const cid = link.slice('kizuna://'.length).split(/[?#]/)[0]
    await page.locator(`[data-testid="content-table"] tr[data-cid="${cid}"]`).waitFor({ timeout: UI_WAIT_MS })
    await page.locator(`[data-testid="content-table"] tr[data-cid="${cid}"] button.linkish`).click()
    await page.screenshot({ path: join(ARTIFACTS, 'content.png'), fullPage: true })
    const out = join(dir, 'fetched.bin')
    await cliJson(testnet.members[2], 'get', link, '-o', out)
    expect(await sha256File(out)).toBe(hash)
  })

  it('the network page shows a stopped peer being evicted', async () => {
    await page.goto(`http://${api}/ui/#/network`)
    const gone = testnet.members[3]
    await page.locator(`[data-testid="peers-table"] tr[data-peer="${gone.peerId}"]`).waitFor({ timeout: UI_WAIT_MS })
    await testnet.stopMember(gone)
    await page.locator(`[data-testid="peer-feed"] li[data-kind="evicted"][data-peer="${gone.peerId}"]`).waitFor({ timeout: UI_WAIT_MS })
    await page.locator(`[data-testid="peers-table"] tr[data-peer="${gone.peerId}"]`).waitFor({ state: 'detached', timeout: UI_WAIT_MS })
    await page.screenshot({ path: join(ARTIFACTS, 'network-evicted.png'), fullPage: true })
    await page.setViewportSize({ width: 390, height: 844 })
    await page.screenshot({ path: join(ARTIFACTS, 'network-phone.png'), fullPage: true })
    await page.setViewportSize({ width: 1280, height: 860 })
    // the README's picture
    await copyFile(join(ARTIFACTS, 'network-evicted.png'), join(packageRoot(), 'docs', 'dashboard-network.png'))
  })

  it('keyboard: the page links are reachable with Tab and show which page is current', async () => {
    await page.goto(`http://${api}/ui/#/network`)
    await page.keyboard.press('Tab') // skip link
    await page.keyboard.press('Tab')
    await page.keyboard.press('Tab')
    await page.keyboard.press('Enter')
    await page.getByRole('heading', { name: 'Transfers' }).waitFor()
    expect(await page.getByRole('link', { name: 'Transfers' }).getAttribute('aria-current')).toBe('page')
    // without the cookie the page says how to log in
    await browser.context.clearCookies()
    await page.reload()
    await page.getByTestId('logged-out').waitFor({ timeout: UI_WAIT_MS })
  })
})
