import { spawn, type ChildProcess } from 'node:child_process'
import { createInterface } from 'node:readline'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Testnet, type TestnetMember } from '../../src/testnet/testnet.js'
import { KIZUNA_BIN } from '../../src/testnet/child-node.js'
import { cliJson } from '../helpers/cli-json.js'
import { runCli } from '../helpers/cli.js'
import { waitFor } from '../helpers/wait.js'

/** A long-running `kizuna ... --json` whose NDJSON lines are collected */
function follow (member: TestnetMember, ...args: string[]): { lines: any[], child: ChildProcess } {
  const child = spawn(process.execPath, [KIZUNA_BIN, ...args, '--repo', member.repo, '--json'], { stdio: ['ignore', 'pipe', 'pipe'] })
  const lines: any[] = []
  createInterface({ input: child.stdout! }).on('line', line => { if (line.startsWith('{"type"')) lines.push(JSON.parse(line)) })
  return { lines, child }
}

describe('kizuna contact / msg / pub / sub between daemons', () => {
  let testnet: Testnet
  const followers: ChildProcess[] = []

  beforeAll(async () => {
    testnet = await Testnet.start({ size: 2, mode: 'process', bootstrap: 'first' })
  })

  afterAll(async () => {
    for (const child of followers) child.kill('SIGKILL')
    await testnet?.stop()
  })

  it('contacts, send with receipt, watch, ls, and clear errors', async () => {
    const [alice, bob] = testnet.members
    expect(await cliJson(alice, 'contact', 'add', 'bob', bob.peerId)).toMatchObject({ name: 'bob', peerId: bob.peerId })

    const watch = follow(bob, 'msg', 'watch')
    followers.push(watch.child)
    await waitFor(() => watch.lines.some(e => e.type === 'watching'), { timeoutMs: 30_000, message: 'watch to be live' })
    const sent = await cliJson(alice, 'msg', 'send', 'bob', 'hello from the CLI')
    expect(sent.status).toBe('delivered')
    const event = await waitFor(() => watch.lines.find(e => e.type === 'message'), { timeoutMs: 10_000, message: 'watch to print the message' })
    expect(event.message).toMatchObject({ text: 'hello from the CLI', from: alice.peerId, direction: 'in' })

    const history = await cliJson(bob, 'msg', 'ls', alice.peerId)
    expect(history.length).toBeGreaterThanOrEqual(1)
    const unknown = await runCli(['msg', 'send', 'carol', 'hi', '--repo', alice.repo])
    expect(unknown.code).toBe(1)
    expect(unknown.stderr).toMatch(/neither a contact/)
    watch.child.kill('SIGINT')
    const gone = await runCli(['contact', 'rm', 'bob', '--repo', alice.repo, '--json'])
    expect(JSON.parse(gone.stdout).name).toBe('bob')
  }, 90_000)

  it('kill -9 right after a message arrives: after restart it is there exactly once', async () => {
    const [alice, bob] = testnet.members
    const sent = await cliJson(alice, 'msg', 'send', bob.peerId, 'survive the crash')
    expect(sent.status).toBe('delivered')
    await bob.child!.kill()
    const back = await testnet.restart(bob)
    const history = await cliJson(back, 'msg', 'ls', alice.peerId) as Array<{ id: string }>
    expect(history.filter(m => m.id === sent.id).length).toBe(1)
    expect(new Set(history.map(m => m.id)).size).toBe(history.length)
  }, 90_000)

  it('pub reaches a sub', async () => {
    const [alice, bob] = testnet.members
    const sub = follow(bob, 'sub', 'news')
    followers.push(sub.child)
    await waitFor(() => sub.lines.some(e => e.type === 'subscribed'), { timeoutMs: 20_000, message: 'subscription' })
    // the subscription reaches Alice by gossip; publish until Alice knows a subscriber
    await waitFor(async () => (await cliJson(alice, 'pub', 'news', 'extra, extra')).recipients > 0, { timeoutMs: 30_000, intervalMs: 500, message: 'a subscriber known to Alice' })
    const got = await waitFor(() => sub.lines.find(e => e.type === 'message'), { timeoutMs: 20_000, message: 'topic message at Bob' })
    expect(got).toMatchObject({ topic: 'news', text: 'extra, extra', from: alice.peerId })
  }, 90_000)
})
