import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createLibp2p, type Libp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { noise } from '@libp2p/noise'
import { yamux } from '@libp2p/yamux'
import { identify } from '@libp2p/identify'
import { gossipsub, type GossipSub } from '@libp2p/gossipsub'
import { Testnet } from '../../src/testnet/testnet.js'
import type { TopicMessage } from '../../src/messaging/topic-service.js'
import { TOPIC_PREFIX } from '../../src/messaging/topic-service.js'
import { waitFor } from '../helpers/wait.js'
import { internalsOf } from '../../src/node/internals.js'

describe('topics over gossipsub in an 8-node swarm', () => {
  let testnet: Testnet
  let evil: Libp2p<{ pubsub: GossipSub }> | undefined
  const controller = new AbortController()

  beforeAll(async () => {
    testnet = await Testnet.start({ size: 8, mode: 'in-process', bootstrap: 'random' })
  })

  afterAll(async () => {
    controller.abort()
    await evil?.stop()
    await testnet?.stop()
  })

  it('reaches every subscriber once and no non-subscriber', async () => {
    const nodes = testnet.members.map(m => m.node!)
    const subscribers = nodes.slice(0, 5)
    const others = nodes.slice(5)
    const received = new Map<string, TopicMessage[]>()
    for (const node of subscribers) {
      const list: TopicMessage[] = []
      received.set(node.peerId.toString(), list)
      void (async () => { for await (const m of node.subscribe('news', { signal: controller.signal })) list.push(m) })()
    }
    // non-subscribers follow another topic, and we listen to everything their gossipsub delivers
    const leaked: string[] = []
    for (const node of others) {
      void (async () => { for await (const _ of node.subscribe('weather', { signal: controller.signal })) { /* not asserted */ } })()
      internalsOf(node).libp2p.services.pubsub.addEventListener('message', evt => { if (evt.detail.topic === `${TOPIC_PREFIX}news`) leaked.push(node.peerId.toString()) })
    }
    await waitFor(() => subscribers.every(n => internalsOf(n).topics.meshPeers('news').length > 0), { timeoutMs: 30_000, message: 'every subscriber in the news mesh' })
    await waitFor(() => others.every(n => subscribers.filter(s => internalsOf(n).libp2p.services.pubsub.getSubscribers(`${TOPIC_PREFIX}news`).some(p => p.equals(s.peerId))).length > 0), { timeoutMs: 30_000, message: 'non-subscribers to know a subscriber' })

    // three subscribers and one non-subscriber publish
    const publishers = [subscribers[0], subscribers[2], subscribers[4], others[0]]
    const texts: string[] = []
    for (const [i, publisher] of publishers.entries()) {
      const text = `headline ${i}`
      texts.push(text)
      await publisher.publish('news', text)
    }
    for (const node of subscribers) {
      const self = node.peerId.toString()
      const expected = publishers.map((p, i) => p.peerId.toString() === self ? undefined : texts[i]).filter(t => t !== undefined).sort()
      await waitFor(() => received.get(self)!.length >= expected.length, { timeoutMs: 30_000, message: `all headlines at ${self}` })
      expect(received.get(self)!.map(m => m.text).sort()).toEqual(expected)
      expect(received.get(self)!.every(m => m.topic === 'news')).toBe(true)
    }
    expect(leaked).toEqual([])
    // every copy that reached a subscriber is counted, duplicates included; others count none
    for (const node of subscribers) expect(node.topicCopiesReceived('news')).toBeGreaterThanOrEqual(received.get(node.peerId.toString())!.length)
    for (const node of others) expect(node.topicCopiesReceived('news')).toBe(0)
    const first = received.get(subscribers[1].peerId.toString())!.find(m => m.text === 'headline 0')!
    expect(first.from).toBe(subscribers[0].peerId.toString())
    await expect(subscribers[0].publish('news', 'x'.repeat(20_000))).rejects.toMatchObject({ code: 'ERR_MESSAGE_TOO_LARGE' })
    await expect(subscribers[0].publish('bad topic!', 'x')).rejects.toMatchObject({ code: 'ERR_BAD_TOPIC' })
  }, 90_000)

  it('drops unsigned messages from a bare gossipsub node and lowers its score', async () => {
    const victim = testnet.members[1].node!
    evil = await createLibp2p({
      addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
      transports: [tcp()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      services: { identify: identify({ protocolPrefix: 'kizuna' }), pubsub: gossipsub({ globalSignaturePolicy: 'StrictNoSign', allowPublishToZeroTopicPeers: true }) }
    })
    const got: TopicMessage[] = []
    void (async () => { for await (const m of victim.subscribe('news', { signal: controller.signal })) got.push(m) })()
    evil.services.pubsub.subscribe(`${TOPIC_PREFIX}news`)
    await evil.dial(internalsOf(victim).libp2p.getMultiaddrs()[0])
    await waitFor(() => evil!.services.pubsub.getSubscribers(`${TOPIC_PREFIX}news`).some(p => p.equals(victim.peerId)), { timeoutMs: 20_000, message: 'the attacker to see the victim subscribed' })
    const before = internalsOf(victim).topics.score(evil.peerId.toString())
    const payload = new TextEncoder().encode(JSON.stringify({ text: 'unsigned lie', sentAt: Date.now() }))
    for (let i = 0; i < 5; i++) await evil.services.pubsub.publish(`${TOPIC_PREFIX}news`, payload).catch(() => {})
    await waitFor(() => internalsOf(victim).topics.score(evil!.peerId.toString()) < Math.min(0, before), { timeoutMs: 20_000, message: 'the attacker\'s score to fall' })
    expect(got.some(m => m.text === 'unsigned lie')).toBe(false)
    // an honest neighbour keeps a non-negative score
    const honest = internalsOf(victim).libp2p.services.pubsub.getSubscribers(`${TOPIC_PREFIX}news`).find(p => !p.equals(evil!.peerId))!
    expect(internalsOf(victim).topics.score(honest.toString())).toBeGreaterThanOrEqual(0)
  }, 60_000)
})
