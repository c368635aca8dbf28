import { KizunaError } from '../errors.js'
import { readFileContent, readFileHead, type ContentStore, type FsBlockStore } from '../content/index.js'
import { CIPHER_MAGIC, decryptStream } from '../crypto/content-cipher.js'
import { parseCidOrLink } from '../links/share-link.js'

/**
 * The bytes of a file held here (`kizuna cat`, `get -o -`), decrypted when the link carries a
 * key. ERR_NOT_LOCAL when it is not all here (get it first), ERR_NOT_A_FILE for a directory,
 * ERR_KEY_REQUIRED for sealed content asked for without its key.
 */
export async function * catContent (cidOrLink: string, stores: { content: ContentStore, blocks: FsBlockStore }, options: { signal?: AbortSignal } = {}): AsyncGenerator<Uint8Array> {
  const { content, blocks } = stores
  const link = parseCidOrLink(cidOrLink)
  const cid = link.cid.toV1()
  if (!(await content.hasAll(cid, options))) throw new KizunaError('ERR_NOT_LOCAL', `${cid.toString()} is not (all) on this node: get it first`)
  const head = await readFileHead(cid, CIPHER_MAGIC.length, blocks, options)
  if (head == null) throw new KizunaError('ERR_NOT_A_FILE', `${cid.toString()} is a directory: use get -o DIR`)
  const sealed = head.length === CIPHER_MAGIC.length && CIPHER_MAGIC.every((b, i) => head[i] === b)
  if (sealed && link.key == null) throw new KizunaError('ERR_KEY_REQUIRED', 'this content is encrypted: use the full share link, including its #k=... key')
  const bytes = readFileContent(cid, blocks, { signal: options.signal })
  yield * (link.key != null ? decryptStream(bytes, link.key) : bytes)
}
