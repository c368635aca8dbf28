import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { DEFAULT_CONFIG, loadConfig, parseApiAddress, validateConfig } from '../../src/node/config.js'
import { applyOverrides, livenessTiming } from '../../src/node/node-options.js'

describe('config', () => {
  const dirs: string[] = []
  afterEach(async () => { await Promise.all(dirs.splice(0).map(async d => rm(d, { recursive: true, force: true }))) })

  it('fills absent fields with defaults', () => {
    const config = validateConfig({ peerTimeout: 10 })
    expect(config.peerTimeout).toBe(10)
    expect(config.listen).toEqual(DEFAULT_CONFIG.listen)
    expect(config.limits.maxConnections).toBe(DEFAULT_CONFIG.limits.maxConnections)
  })

  it.each([
    [{ peerTimeout: -1 }, 'peerTimeout'],
    [{ peerTimeout: 'soon' }, 'peerTimeout'],
    [{ mdns: 'yes' }, 'mdns'],
    [{ listen: '/ip4/127.0.0.1/tcp/0' }, 'listen'],
    [{ listen: ['not-a-multiaddr'] }, 'listen[0]'],
    [{ bootstrap: ['/ip4/127.0.0.1/tcp/1', 42] }, 'bootstrap[1]'],
    [{ api: '0.0.0.0:5001' }, 'api'],
    [{ api: 'localhost' }, 'api'],
    [{ peertimeout: 5 }, 'peertimeout'],
    [{ limits: { maxConnections: 0 } }, 'limits.maxConnections'],
    [{ limits: { bogus: 1 } }, 'limits.bogus'],
    [{ joinLookups: 1.5 }, 'joinLookups']
  ])('rejects %j naming the field %s', (input, field) => {
    try {
      validateConfig(input)
      expect.fail('should have thrown')
    } catch (err) {
      expect((err as { code: string }).code).toBe('ERR_BAD_CONFIG')
      expect((err as { field: string }).field).toBe(field)
      expect((err as Error).message).toContain(field)
    }
  })

  it('reports a half-written config file clearly', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'kizuna-config-'))
    dirs.push(dir)
    const path = join(dir, 'config.json')
    await writeFile(path, JSON.stringify(DEFAULT_CONFIG).slice(0, 40))
    await expect(loadConfig(path)).rejects.toMatchObject({ code: 'ERR_BAD_CONFIG', message: expect.stringContaining('not valid JSON') })
  })

  it('accepts loopback API addresses only, with port 0 allowed', () => {
    expect(parseApiAddress('127.0.0.1:0')).toEqual({ host: '127.0.0.1', port: 0 })
    expect(parseApiAddress('[::1]:5010')).toEqual({ host: '::1', port: 5010 })
    expect(() => parseApiAddress('192.168.1.2:5010')).toThrow(/loopback/)
    expect(() => parseApiAddress('127.0.0.1:70000')).toThrow(/out of range/)
  })

  it('derives liveness timing so several rounds fit in one peerTimeout, in whole ms', () => {
    const timing = livenessTiming(applyOverrides(DEFAULT_CONFIG, { peerTimeout: 4 }))
    expect(timing.peerTimeoutMs).toBe(4000)
    expect(timing.refreshIntervalMs).toBeLessThanOrEqual(4000 / 3 + 1)
    expect(Number.isInteger(timing.refreshIntervalMs)).toBe(true)
    expect(Number.isInteger(timing.pingTimeoutMs)).toBe(true)
    expect(livenessTiming(DEFAULT_CONFIG).refreshIntervalMs).toBe(DEFAULT_CONFIG.refreshInterval * 1000)
  })
})
