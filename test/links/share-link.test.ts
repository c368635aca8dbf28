import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import * as raw from 'multiformats/codecs/raw'
import { formatShareLink, parseCidOrLink, MAX_LINK_HINTS, MAX_LINK_LENGTH } from '../../src/links/share-link.js'

const PEER = '12D3KooWK7nHoqAiAhz7VEzZJXXLptwjHadX2Bcz8A9NRD67fvwb'

async function cidOf (bytes: Uint8Array): Promise<CID> {
  return CID.createV1(raw.code, await sha256.digest(bytes))
}

describe('share links', () => {
  it('round-trips cid, hints and key', async () => {
    await fc.assert(fc.asyncProperty(
      fc.uint8Array({ maxLength: 64 }),
      fc.array(fc.tuple(fc.integer({ min: 1, max: 254 }), fc.integer({ min: 1, max: 65535 })), { maxLength: MAX_LINK_HINTS }),
      fc.option(fc.uint8Array({ minLength: 1, maxLength: 48 }), { nil: undefined }),
      async (content, addrs, key) => {
        const cid = await cidOf(content)
        const hints = addrs.map(([octet, port]) => `/ip4/127.0.0.${octet}/tcp/${port}/p2p/${PEER}`)
        const parsed = parseCidOrLink(formatShareLink({ cid, hints, key }))
        expect(parsed.cid.equals(cid)).toBe(true)
        expect(parsed.hints).toEqual(hints)
        expect(parsed.key == null ? undefined : Buffer.from(parsed.key).toString('hex')).toEqual(key == null ? undefined : Buffer.from(key).toString('hex'))
      }
    ), { numRuns: 100 })
  })

  it('accepts a bare CID', async () => {
    const cid = await cidOf(new Uint8Array([1, 2, 3]))
    expect(parseCidOrLink(cid.toString()).cid.equals(cid)).toBe(true)
  })

  it.each([
    ['not-a-cid', 'ERR_BAD_CID'],
    ['kizuna://bafyNOPE', 'ERR_BAD_CID'],
    [`kizuna://bafkreiaxnnnb7qz2focittuqq3ya25q7rcv3bqynnczfzako47346wosmu?hint=garbage`, 'ERR_BAD_LINK'],
    [`kizuna://bafkreiaxnnnb7qz2focittuqq3ya25q7rcv3bqynnczfzako47346wosmu?hint=${encodeURIComponent('/ip4/1.2.3.4/tcp/1')}`, 'ERR_BAD_LINK'],
    ['kizuna://bafkreiaxnnnb7qz2focittuqq3ya25q7rcv3bqynnczfzako47346wosmu#k=not base64!', 'ERR_BAD_LINK'],
    ['kizuna://' + 'a'.repeat(MAX_LINK_LENGTH), 'ERR_BAD_LINK']
  ])('rejects %s with %s', (text, code) => {
    expect(() => parseCidOrLink(text)).toThrow(expect.objectContaining({ code }))
  })

  it('never throws anything but a coded error on arbitrary input', () => {
    fc.assert(fc.property(fc.string({ maxLength: 300 }), text => {
      try {
        parseCidOrLink('kizuna://' + text)
      } catch (err) {
        expect(['ERR_BAD_CID', 'ERR_BAD_LINK']).toContain((err as { code: string }).code)
      }
    }), { numRuns: 300 })
  })
})
