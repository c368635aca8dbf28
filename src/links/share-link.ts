import type { CID } from 'multiformats/cid'
import { multiaddr } from '@multiformats/multiaddr'
import { KizunaError } from '../errors.js'
import { parseCid } from './cid-text.js'

export { parseCid }

/** Hints beyond this many add nothing but length: a friend needs one reachable publisher address */
export const MAX_LINK_HINTS = 8
/** A link longer than this is not something a person pastes; refuse before parsing */
export const MAX_LINK_LENGTH = 4096

export interface ShareLink {
  cid: CID
  /** Publisher multiaddrs (with /p2p/ID) to dial directly, before the DHT has the record */
  hints: string[]
  /** Decryption key for encrypted content: only ever in the fragment, never sent to a server */
  key?: Uint8Array
}

export class BadLinkError extends KizunaError {
  constructor (message: string) {
    super('ERR_BAD_LINK', message)
  }
}

/**
 * `kizuna://<cid>?hint=<multiaddr>&hint=...#k=<base64url key>` — the CID names the content,
 * hints let the receiver dial the publisher at once, the fragment carries a key that must not
 * travel further than the person it was given to.
 */
export function formatShareLink (link: ShareLink): string {
  const params = link.hints.slice(0, MAX_LINK_HINTS).map(h => `hint=${encodeURIComponent(h)}`).join('&')
  const query = params === '' ? '' : `?${params}`
  const fragment = link.key != null ? `#k=${Buffer.from(link.key).toString('base64url')}` : ''
  return `kizuna://${link.cid.toString()}${query}${fragment}`
}

/** Accepts a bare CID or a kizuna:// link */
export function parseCidOrLink (text: string): ShareLink {
  if (text.length > MAX_LINK_LENGTH) {
    throw new BadLinkError(`link is ${text.length} characters long; at most ${MAX_LINK_LENGTH} are accepted`)
  }
  if (!text.startsWith('kizuna://')) {
    return { cid: parseCid(text), hints: [] }
  }
  const rest = text.slice('kizuna://'.length)
  const hashAt = rest.indexOf('#')
  const beforeFragment = hashAt >= 0 ? rest.slice(0, hashAt) : rest
  const fragment = hashAt >= 0 ? rest.slice(hashAt + 1) : ''
  const queryAt = beforeFragment.indexOf('?')
  const cidText = queryAt >= 0 ? beforeFragment.slice(0, queryAt) : beforeFragment
  const query = new URLSearchParams(queryAt >= 0 ? beforeFragment.slice(queryAt + 1) : '')
  const cid = parseCid(cidText.replace(/\/$/, ''))
  const hints = query.getAll('hint')
  if (hints.length > MAX_LINK_HINTS) {
    throw new BadLinkError(`link has ${hints.length} address hints; at most ${MAX_LINK_HINTS} are accepted`)
  }
  for (const hint of hints) {
    try {
      const ma = multiaddr(hint)
      if (ma.getComponents().every(c => c.name !== 'p2p')) {
        throw new Error('it does not end in /p2p/PEER_ID')
      }
    } catch (err) {
      throw new BadLinkError(`link hint "${hint}" is not a usable multiaddr: ${(err as Error).message}`)
    }
  }
  let key: Uint8Array | undefined
  if (fragment !== '') {
    const keyText = new URLSearchParams(fragment).get('k')
    if (keyText == null || !/^[A-Za-z0-9_-]+$/.test(keyText)) {
      throw new BadLinkError('link fragment must be #k=<base64url key>')
    }
    key = new Uint8Array(Buffer.from(keyText, 'base64url'))
  }
  return { cid, hints, key }
}

/** A CID, or a CID / kizuna:// link as text (the link's key and hints are not needed here) */
export function cidOf (target: CID | string): CID {
  return typeof target === 'string' ? parseCidOrLink(target).cid : target
}
