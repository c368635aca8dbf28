import { existsSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { chromium, type BrowserContext } from 'playwright-core'

/** Debian's chromium (`apt-get install chromium`): playwright-core drives it, no browser download */
export const CHROMIUM = '/usr/bin/chromium'

export const CHROMIUM_FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync']

export interface TestBrowser { context: BrowserContext, close(): Promise<void> }

/** A headless chromium with a fresh profile, removed on close */
export async function launchBrowser (): Promise<TestBrowser> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium (.ci/run does)`)
  const profile = await mkdtemp(join(tmpdir(), 'kizuna-chromium-'))
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_FLAGS,
    viewport: { width: 1280, height: 860 }
  })
  return {
    context,
    async close () {
      await context.close().catch(() => {})
      await rm(profile, { recursive: true, force: true })
    }
  }
}
