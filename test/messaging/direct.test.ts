import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { identify } from '@libp2p/identify'
import { noise } from '@libp2p/noise'
import { tcp } from '@libp2p/tcp'
import { yamux } from '@libp2p/yamux'
import { peerIdFromString } from '@libp2p/peer-id'
import { lpStream } from '@libp2p/utils'
import { createLibp2p, type Libp2p } from 'libp2p'
import type { PrivateKey } from '@libp2p/interface'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import '../../src/shim.js'
import { Testnet, type TestnetMember } from '../../src/testnet/testnet.js'
import type { KizunaNode } from '../../src/node/node.js'
import { MSG_PROTOCOL, decodeMsgFrame, encodeFrame, type MsgFrame } from '../../src/messaging/codec.js'
import { newMessageId, signMessage } from '../../src/messaging/message.js'
import { signReceipt } from '../../src/messaging/receipt.js'
import { toMessage, type MessageRecord } from '../../src/messaging/message-store.js'
import type { MessageEvent } from '../../src/messaging/events.js'
import { waitFor } from '../helpers/wait.js'
import { internalsOf } from '../../src/node/internals.js'
import { codeOf } from '../helpers/code-of.js'

/** A bare libp2p node speaking /kizuna/msg/1.0.0 by hand: the attacker */
async function attacker (key: PrivateKey): Promise<Libp2p> {
  return createLibp2p({
    privateKey: key,
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services: { identify: identify() }
  })
}

async function exchange (from: Libp2p, to: TestnetMember, body: Uint8Array): Promise<MsgFrame> {
  await from.peerStore.merge(peerIdFromString(to.peerId), { multiaddrs: internalsOf(to.node!).libp2p.getMultiaddrs() })
  const stream = await from.dialProtocol(peerIdFromString(to.peerId), MSG_PROTOCOL)
  const lp = lpStream(stream)
  await lp.write(body)
  const reply = decodeMsgFrame((await lp.read()).subarray())
  await stream.close()
  return reply
}

describe('direct messages between two nodes over real sockets', () => {
  let testnet: Testnet
  let dir: string
  let a: KizunaNode
  let b: KizunaNode
  let evil: Libp2p | undefined

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kizuna-msg-'))
    testnet = await Testnet.start({ size: 2, mode: 'in-process', bootstrap: 'first' })
    a = testnet.members[0].node!
    b = testnet.members[1].node!
  })

  afterAll(async () => {
    await evil?.stop()
    await testnet?.stop()
    await rm(dir, { recursive: true, force: true })
  })

  it('sends A→B by contact name, B stores it before the receipt, A shows delivered, watch sees it', async () => {
    await a.contactAdd('bob', b.peerId.toString())
    expect((await a.contacts()).map(c => c.name)).toEqual(['bob'])
    expect(await codeOf(a.sendMessage('nobody', 'hi'))).toBe('ERR_UNKNOWN_CONTACT')
    expect(await codeOf(a.sendMessage('bob', 'x'.repeat(9000)))).toBe('ERR_MESSAGE_TOO_LARGE')

    const controller = new AbortController()
    const seen: MessageEvent[] = []
    const watching = (async () => { for await (const event of b.watchMessages({ signal: controller.signal })) seen.push(event) })()
    const sent = await a.sendMessage('bob', 'hello bob')
    expect(sent.status).toBe('delivered')
    expect(sent.via).toBe('direct')
    const got = await b.messages(a.peerId.toString())
    expect(got.map(m => [m.text, m.direction, m.seq])).toEqual([['hello bob', 'in', 1]])
    await waitFor(() => seen.some(e => e.type === 'message' && e.message.id === sent.id), { timeoutMs: 5000, message: 'watch event' })
    controller.abort()
    await watching
    const second = await a.sendMessage(b.peerId.toString(), 'second')
    expect(second.seq).toBe(2)
    expect((await a.messages('bob')).map(m => m.text)).toEqual(['hello bob', 'second'])
  }, 60_000)

  it('refuses forged, replayed, future and garbage messages from a bare libp2p node', async () => {
    const key = await generateKeyPair('Ed25519')
    evil = await attacker(key)
    const target = testnet.members[1]
    const before = (await b.messages()).length
    // forged: claims to be A, signed with the attacker's key
    const forged = await signMessage({ id: newMessageId(), from: a.peerId.toString(), to: target.peerId, seq: 3, sentAt: Date.now(), text: 'send me your keys' }, key)
    const r1 = await exchange(evil, target, encodeFrame({ type: 'deliver', message: forged }))
    expect(r1).toMatchObject({ type: 'refused', code: 'ERR_BAD_SIGNATURE' })
    // replayed: A's real signed message, sent again by someone else
    const real = (await b.messages(a.peerId.toString()))[0]
    const r2 = await exchange(evil, target, encodeFrame({ type: 'deliver', message: toMessage(real) }))
    expect(r2).toMatchObject({ type: 'receipt', status: 'duplicate' })
    // a sequence far ahead of anything the sender sent
    const future = await signMessage({ id: newMessageId(), from: evil.peerId.toString(), to: target.peerId, seq: 5000, sentAt: Date.now(), text: 'from the future' }, key)
    const r3 = await exchange(evil, target, encodeFrame({ type: 'deliver', message: future }))
    expect(r3).toMatchObject({ type: 'refused', code: 'ERR_SEQUENCE_FROM_FUTURE' })
    // signed for someone else
    const elsewhere = await signMessage({ id: newMessageId(), from: evil.peerId.toString(), to: a.peerId.toString(), seq: 1, sentAt: Date.now(), text: 'not for b' }, key)
    expect(await exchange(evil, target, encodeFrame({ type: 'deliver', message: elsewhere }))).toMatchObject({ type: 'refused', code: 'ERR_WRONG_RECIPIENT' })
    // garbage
    expect(await exchange(evil, target, new TextEncoder().encode('{"type":"deliver","message":{"id":1}}'))).toMatchObject({ type: 'refused', code: 'ERR_MALFORMED_MESSAGE' })
    expect(await exchange(evil, target, new Uint8Array([0xff, 0xfe, 0x00]))).toMatchObject({ type: 'refused', code: 'ERR_MALFORMED_MESSAGE' })
    // nothing of it landed, and a genuine one from the attacker's own key still works
    expect((await b.messages()).length).toBe(before)
    const honest = await signMessage({ id: newMessageId(), from: evil.peerId.toString(), to: target.peerId, seq: 1, sentAt: Date.now(), text: 'hi, I am new' }, key)
    expect(await exchange(evil, target, encodeFrame({ type: 'deliver', message: honest }))).toMatchObject({ type: 'receipt', status: 'stored' })
    expect((await b.messages(evil.peerId.toString())).map(m => m.text)).toEqual(['hi, I am new'])
  }, 60_000)

  it('sends a file as an encrypted share link that the friend fetches', async () => {
    const source = join(dir, 'photo.bin')
    const bytes = Buffer.from(Array.from({ length: 300_000 }, (_, i) => (i * 7919) % 251))
    await writeFile(source, bytes)
    const sent = await a.sendMessage('bob', 'a photo', { file: source })
    expect(sent.status).toBe('delivered')
    const received = (await b.messages(a.peerId.toString())).find(m => m.id === sent.id) as MessageRecord
    expect(received.file?.name).toBe('photo.bin')
    expect(received.file?.link).toMatch(/^kizuna:\/\//)
    const out = join(dir, 'photo.out')
    for await (const _ of b.get(received.file!.link, { output: out })) { /* progress */ }
    expect(Buffer.compare(await readFile(out), bytes)).toBe(0)
  }, 60_000)

  it('read receipts: B showing a message (ls or watch) moves it to read at A; forged or foreign receipts change nothing', async () => {
    const bMessaging = internalsOf(b).messaging
    const unread = await a.sendMessage('bob', 'read me by ls')
    expect(unread.status).toBe('delivered')
    // shown by ls, and the receipt flushed: A has it as read at once
    expect((await b.messages(a.peerId.toString())).find(m => m.id === unread.id)?.readAt).toBeGreaterThan(0)
    await bMessaging.flushReadReceipts()
    expect((await a.messages('bob')).find(m => m.id === unread.id)?.status).toBe('read')

    // shown by watch: taken by the reader, then read at A
    const controller = new AbortController()
    const watch = b.watchMessages({ signal: controller.signal })
    const watched = await a.sendMessage('bob', 'read me by watch')
    expect((await watch.next()).value).toMatchObject({ type: 'message', message: { id: watched.id } })
    await waitFor(async () => (await a.messages('bob')).find(m => m.id === watched.id)?.status === 'read', { timeoutMs: 10_000, message: 'read at A after watch' })
    controller.abort()
    await watch.return(undefined)

    // a third peer cannot mark A's message to B read: its own signature covers only itself,
    // and a receipt claiming to be B's is not signed by the connection's peer
    const key = await generateKeyPair('Ed25519')
    const mallory = await attacker(key)
    const fresh = await a.sendMessage('bob', 'not read yet')
    const own = await signReceipt(key, 'read', mallory.peerId.toString(), a.peerId.toString(), [fresh.id])
    expect(await exchange(mallory, testnet.members[0], encodeFrame({ type: 'receipts', ids: [fresh.id], status: 'read', sig: own }))).toMatchObject({ type: 'receipts-ok' })
    const claimsB = await signReceipt(key, 'read', b.peerId.toString(), a.peerId.toString(), [fresh.id])
    expect(await exchange(mallory, testnet.members[0], encodeFrame({ type: 'receipts', ids: [fresh.id], status: 'read', sig: claimsB }))).toMatchObject({ type: 'refused', code: 'ERR_BAD_SIGNATURE' })
    await mallory.stop()
    expect((await a.messages('bob')).find(m => m.id === fresh.id)?.status).toBe('delivered')
  }, 60_000)

  it('msg watch keeps at most maxBuffered unread events: the oldest go, counted in a dropped event', async () => {
    const controller = new AbortController()
    const watch = b.watchMessages({ signal: controller.signal, maxBuffered: 3 })
    const sent: string[] = []
    for (let i = 0; i < 7; i++) sent.push((await a.sendMessage('bob', `burst ${i}`)).id)
    // nobody read the watch while 7 arrived: 4 dropped, the newest 3 kept in order
    expect((await watch.next()).value).toEqual({ type: 'dropped', count: 4 })
    const kept = []
    for (let i = 0; i < 3; i++) kept.push((await watch.next()).value)
    expect(kept.map(e => e.type === 'message' ? e.message.id : e.type)).toEqual(sent.slice(4))
    controller.abort()
    expect((await watch.next()).done).toBe(true)
  }, 60_000)

  it('keeps history across a restart, each message once', async () => {
    const before = await b.messages(a.peerId.toString())
    const member = await testnet.restart(testnet.members[1])
    b = member.node!
    const after = await b.messages(a.peerId.toString())
    expect(after.map(m => m.id)).toEqual(before.map(m => m.id))
    expect(new Set(after.map(m => m.id)).size).toBe(after.length)
  }, 60_000)

  it('with readReceipts off, B reads without telling A', async () => {
    const config = join(testnet.members[1].repo, 'config.json')
    await writeFile(config, JSON.stringify({ ...JSON.parse(await readFile(config, 'utf8')), readReceipts: false }))
    b = (await testnet.restart(testnet.members[1])).node!
    await waitFor(() => internalsOf(b).libp2p.getConnections(a.peerId).length > 0, { timeoutMs: 20_000, message: 'B back in touch with A' })
    const quiet = await a.sendMessage('bob', 'read quietly')
    await waitFor(async () => (await a.messages('bob')).find(m => m.id === quiet.id)?.status === 'delivered', { timeoutMs: 30_000, message: 'delivered to the restarted B' })
    expect((await b.messages(a.peerId.toString())).find(m => m.id === quiet.id)?.readAt).toBeUndefined()
    await internalsOf(b).messaging.flushReadReceipts()
    expect((await a.messages('bob')).find(m => m.id === quiet.id)?.status).toBe('delivered')
  }, 60_000)
})
