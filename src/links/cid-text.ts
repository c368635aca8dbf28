import { CID } from 'multiformats/cid'
import { KizunaError } from '../errors.js'

/**
 * A CID from text, or ERR_BAD_CID. Its own module so the CLI can check a bare CID without
 * loading the multiaddr parser that links' hints need (~25 ms of a `kizuna get` start).
 */
export function parseCid (text: string): CID {
  try {
    return CID.parse(text.trim())
  } catch (err) {
    throw new KizunaError('ERR_BAD_CID', `"${text}" is not a valid CID: ${(err as Error).message}`)
  }
}
