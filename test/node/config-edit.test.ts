import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Repo } from '../../src/node/repo.js'
import { configValue, parseConfigInput, setConfigValue } from '../../src/node/config-edit.js'
import { DEFAULT_CONFIG } from '../../src/node/config.js'

describe('config get/set', () => {
  let dir: string
  let repo: Repo

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kizuna-config-edit-'))
    repo = new Repo(join(dir, 'repo'))
    await repo.init()
  })

  afterAll(async () => { await rm(dir, { recursive: true, force: true }) })

  it.each([
    ['peerTimeout', '45', 45],
    ['mdns', 'false', false],
    ['api', '127.0.0.1:6010', '127.0.0.1:6010'],
    ['bootstrap', '/ip4/127.0.0.1/tcp/1/p2p/12D3KooWHFrmLWTTDD4NodngtRMEVYgxrsDJ56ZBSNwbaNqnyRQs,/ip4/127.0.0.1/tcp/2/p2p/12D3KooWHFrmLWTTDD4NodngtRMEVYgxrsDJ56ZBSNwbaNqnyRQs',
      ['/ip4/127.0.0.1/tcp/1/p2p/12D3KooWHFrmLWTTDD4NodngtRMEVYgxrsDJ56ZBSNwbaNqnyRQs', '/ip4/127.0.0.1/tcp/2/p2p/12D3KooWHFrmLWTTDD4NodngtRMEVYgxrsDJ56ZBSNwbaNqnyRQs']],
    ['listen', '["/ip4/127.0.0.1/tcp/0"]', ['/ip4/127.0.0.1/tcp/0']],
    ['limits.maxConnections', '50', 50]
  ])('set %s %s', async (key, text, expected) => {
    const config = await setConfigValue(repo, key, text)
    expect(configValue(config, key)).toEqual(expected)
    expect(configValue(await repo.loadConfig(), key)).toEqual(expected)
  })

  it.each([
    ['peerTimeout', '-1', /"peerTimeout": must be a positive number/],
    ['peerTimeout', 'soon', /"peerTimeout": must be a positive number/],
    ['nosuch', '1', /"nosuch": is not a known setting/],
    ['limits.nosuch', '1', /"limits.nosuch": is not a known setting/],
    ['api', '0.0.0.0:5010', /must be a loopback address/],
    ['mdns', 'maybe', /must be true or false/],
    ['listen', '/ip4/nope', /invalid multiaddr/],
    ['replicas', '65', /between 1 and 64/]
  ])('refuses %s %s and leaves the file alone', async (key, text, message) => {
    const before = await readFile(repo.configPath, 'utf8')
    await expect(setConfigValue(repo, key, text)).rejects.toThrow(message)
    expect(await readFile(repo.configPath, 'utf8')).toBe(before)
  })

  it('reads dotted keys and refuses unknown ones', () => {
    expect(configValue(DEFAULT_CONFIG, 'limits.maxConnections')).toBe(DEFAULT_CONFIG.limits.maxConnections)
    expect(() => configValue(DEFAULT_CONFIG, 'limits.maxConnections.x')).toThrow(/not a known setting/)
    expect(parseConfigInput('api', '5')).toBe('5')
  })
})
