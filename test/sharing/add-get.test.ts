import { readdir, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import type { TestnetMember } from '../../src/testnet/testnet.js'
import { useTestnet } from '../helpers/testnet-fixture.js'
import type { GetEvent } from '../../src/sharing/events.js'
import { runCli } from '../helpers/cli.js'
import { cliJson, jsonResult } from '../helpers/cli-json.js'
import { sha256File, writeRandomFile, writeTree } from '../helpers/files.js'
import { waitFor } from '../helpers/wait.js'

const MiB = 1024 * 1024

const cli = cliJson

/** Starts a get on `downloader` and kill -9s the daemon once `atBytes` have arrived; returns the bytes seen */
async function getUntilKilled (downloader: TestnetMember, body: { target: string, output?: string }, atBytes: number): Promise<number> {
  try {
    for await (const event of downloader.child!.api.stream<GetEvent>('/get', body)) {
      if (event.type === 'get:progress' && event.bytesDone >= atBytes) {
        await downloader.child!.kill()
        return event.bytesDone
      }
    }
  } catch {
    // the stream breaks when its daemon dies
  }
  return 0
}

describe('add and get between daemons over the DHT', () => {
  const net = useTestnet({ size: 4, mode: 'process', bootstrap: 'random', peerTimeout: 60 }, 'kizuna-share-')

  it('a file added on one node is fetched byte-identical by another that only knows the CID', async () => {
    const { testnet, dir } = net
    const [publisher, , , downloader] = testnet.members
    const source = join(dir, 'photo.bin')
    const hash = await writeRandomFile(source, 9 * MiB + 123)
    const added = await cli(publisher, 'add', source)
    expect(added.cid).toMatch(/^bafy/)
    expect(added.size).toBe(9 * MiB + 123)
    expect(added.link).toContain(`kizuna://${added.cid}`)

    const out = join(dir, 'photo.out')
    const got = await cli(downloader, 'get', added.cid, '-o', out)
    expect(got.cid).toBe(added.cid)
    expect(got.providers.map((p: { peerId: string }) => p.peerId)).toContain(publisher.peerId)
    expect(await sha256File(out)).toBe(hash)

    // the downloader now holds it (cached) and serves it: another node can get it from there
    const listed = await cli(downloader, 'ls')
    expect(listed).toContainEqual(expect.objectContaining({ cid: added.cid, kind: 'cached' }))
    const status = await cli(downloader, 'status')
    expect(status.downloadedBytes).toBeGreaterThanOrEqual(9 * MiB)
    const publisherStatus = await cli(publisher, 'status')
    expect(publisherStatus.uploadedBytes).toBeGreaterThanOrEqual(9 * MiB)

    // refuses to overwrite without --force, and a second get is served from the local store
    const again = await runCli(['get', added.cid, '-o', out, '--repo', downloader.repo])
    expect(again.code).toBe(1)
    expect(again.stderr).toMatch(/exists/)
    const forced = await cli(downloader, 'get', added.cid, '-o', out, '--force')
    expect(forced.bytesFetched).toBe(0)
  })

  it('a nested directory round-trips, and the share link works without the DHT record', async () => {
    const { testnet, dir } = net
    const [, publisher, downloader] = testnet.members
    const tree = join(dir, 'album')
    const hashes = await writeTree(tree)
    const added = await cli(publisher, 'add', tree)
    const out = join(dir, 'album.out')
    await cli(downloader, 'get', added.link, '-o', out)
    for (const [name, hash] of Object.entries(hashes)) {
      expect(await sha256File(join(out, name))).toBe(hash)
    }
    expect((await stat(join(out, 'empty'))).isDirectory()).toBe(true)
    expect(await readdir(join(out, 'empty'))).toEqual([])
  })

  it('bad input fails clearly: missing path, invalid CID, content nobody has', async () => {
    const { testnet, dir } = net
    const node = testnet.members[0]
    const missing = await runCli(['add', join(dir, 'does-not-exist'), '--repo', node.repo])
    expect(missing.code).toBe(1)
    expect(missing.stderr).toMatch(/does-not-exist/)
    const badCid = await runCli(['get', 'bafy-not-a-cid', '--repo', node.repo, '--json'])
    expect(badCid.code).toBe(1)
    expect(jsonResult(badCid.stdout).error.code).toBe('ERR_BAD_CID')
    // a valid CID of bytes nobody added
    const nobody = await runCli(['get', 'bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy', '--repo', node.repo, '--timeout', '3', '--json'])
    expect(nobody.code).toBe(1)
    expect(jsonResult(nobody.stdout).error.code).toMatch(/ERR_NO_PROVIDERS|ERR_FETCH_FAILED/)
    // the daemon keeps serving
    expect((await runCli(['id', '--repo', node.repo])).code).toBe(0)
  })
})

describe('downloads survive providers and downloaders dying', () => {
  const net = useTestnet({ size: 3, mode: 'process', bootstrap: 'first', peerTimeout: 60 }, 'kizuna-share-')

  it('uses two providers, and completes from one when the other is killed mid-download', async () => {
    const { testnet, dir } = net
    const [a, b, downloader] = testnet.members
    const source = join(dir, 'big.bin')
    const hash = await writeRandomFile(source, 48 * MiB)
    const added = await cli(a, 'add', source)
    await cli(b, 'get', added.cid, '--pin')
    // b announces what it fetched once its gets are quiet (src/sharing/quiet-announcer.ts): the
    // downloader must be able to find b before the test's premise (two providers) holds
    await waitFor(async () => (await downloader.child!.api.get<Array<{ peerId: string }>>(`/providers/${added.cid}`)).some(p => p.peerId === b.peerId), { timeoutMs: 60_000, message: 'b to be found as a provider' })

    let killed = false
    let done: (GetEvent & { type: 'get:done' }) | undefined
    const dropped: string[] = []
    for await (const event of downloader.child!.api.stream<GetEvent>('/get', { target: added.cid, output: join(dir, 'big.out') })) {
      if (event.type === 'get:progress' && !killed && event.bytesDone >= 8 * MiB) {
        killed = true
        await b.child!.kill()
      }
      if (event.type === 'get:provider-dropped') dropped.push(event.peerId)
      if (event.type === 'get:done') done = event
    }
    expect(killed).toBe(true)
    expect(done).toBeDefined()
    expect(await sha256File(join(dir, 'big.out'))).toBe(hash)
    const used = new Map(done!.providers.map(p => [p.peerId, p.bytes]))
    // both providers delivered blocks before one died
    expect(used.get(a.peerId) ?? 0).toBeGreaterThan(0)
    expect(used.get(b.peerId) ?? 0).toBeGreaterThan(0)
  })

  /** The first member adds a 40 MiB file; a new downloader gets it (to `output` if given) and is kill -9ed at 12 MiB */
  async function interruptedDownload (name: string, output?: string): Promise<{ added: { cid: string }, hash: string, downloader: TestnetMember, fetchedBeforeKill: number }> {
    const { testnet, dir } = net
    const a = testnet.members[0]
    const source = join(dir, `${name}.bin`)
    const hash = await writeRandomFile(source, 40 * MiB)
    const added = await cli(a, 'add', source)
    const downloader = await testnet.add({ bootstrap: [a.addrs[0]] })
    const fetchedBeforeKill = await getUntilKilled(downloader, { target: added.cid, output }, 12 * MiB)
    expect(fetchedBeforeKill).toBeGreaterThanOrEqual(12 * MiB)
    return { added, hash, downloader, fetchedBeforeKill }
  }

  it('resumes after kill -9 of the downloader without refetching stored blocks', async () => {
    const { testnet, dir } = net
    const { added, hash, downloader, fetchedBeforeKill } = await interruptedDownload('resume')

    const restarted = await testnet.restart(downloader)
    const got = await cli(restarted, 'get', added.cid, '-o', join(dir, 'resume.out'), '--timeout', '60')
    expect(await sha256File(join(dir, 'resume.out'))).toBe(hash)
    // blocks verified and stored before the kill are not fetched again
    expect(got.bytesFetched).toBeLessThanOrEqual(40 * MiB - fetchedBeforeKill + 2 * MiB)
    expect(got.bytesFetched).toBeGreaterThan(0)
  })

  it('resumes a get -o after kill -9 of the downloader from the leaves in its partial file', async () => {
    const { testnet, dir } = net
    const out = join(dir, 'resume-out.out')
    const { added, hash, downloader, fetchedBeforeKill } = await interruptedDownload('resume-out', out)
    // the leaves are in the partial file next to the output, not in the repo
    expect((await readdir(dir)).filter(name => name.startsWith('.resume-out.out.kizuna-'))).toHaveLength(1)

    const restarted = await testnet.restart(downloader)
    const got = await cli(restarted, 'get', added.cid, '-o', out, '--timeout', '60')
    expect(await sha256File(out)).toBe(hash)
    expect(got.bytesFetched).toBeLessThanOrEqual(40 * MiB - fetchedBeforeKill + 2 * MiB)
    expect(got.bytesFetched).toBeGreaterThan(0)
    expect((await readdir(dir)).filter(name => name.includes('.kizuna-'))).toEqual([])
  })

  it('keeps what a get -o fetched when its client gives up, and serves the file onward from the output', async () => {
    const { testnet, dir } = net
    const a = testnet.members[0]
    const b = await testnet.add({ bootstrap: [a.addrs[0]] })
    const source = join(dir, 'cancelled.bin')
    const hash = await writeRandomFile(source, 32 * MiB)
    const added = await cli(a, 'add', source)
    const out = join(dir, 'cancelled.out')

    const controller = new AbortController()
    let fetchedBeforeCancel = 0
    try {
      for await (const event of b.child!.api.stream<GetEvent>('/get', { target: added.cid, output: out }, { signal: controller.signal })) {
        if (event.type === 'get:progress' && event.bytesDone >= 8 * MiB) {
          fetchedBeforeCancel = event.bytesDone
          controller.abort()
        }
      }
    } catch (err) {
      expect((err as Error).name).toBe('AbortError')
    }
    expect(fetchedBeforeCancel).toBeGreaterThanOrEqual(8 * MiB)
    // the daemon copies the fetched leaves into its store, then removes the partial file
    await waitFor(async () => (await readdir(dir)).every(name => !name.includes('.kizuna-')), { timeoutMs: 30_000, message: 'the partial file to be copied in and removed' })

    const got = await cli(b, 'get', added.cid, '-o', out, '--timeout', '60')
    expect(await sha256File(out)).toBe(hash)
    expect(got.bytesFetched).toBeLessThanOrEqual(32 * MiB - fetchedBeforeCancel + 2 * MiB)

    // with the publisher gone, a third node fetches it from b, whose leaves are read from the output
    await a.child!.kill()
    const c = await testnet.add({ bootstrap: [b.addrs[0]] })
    const copy = join(dir, 'cancelled.copy')
    const fromB = await cli(c, 'get', `${added.cid}`, '-o', copy, '--timeout', '60')
    expect(await sha256File(copy)).toBe(hash)
    expect(fromB.providers.map((p: { peerId: string }) => p.peerId)).toEqual([b.peerId])

    // rm forgets the content, never the user's file
    await cli(b, 'rm', added.cid)
    expect(await sha256File(out)).toBe(hash)
  })
})
