import { readFile, writeFile, stat } from 'node:fs/promises'
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import type { PrivateKey, PeerId } from '@libp2p/interface'
import { KizunaError } from '../errors.js'

export interface Identity {
  privateKey: PrivateKey
  peerId: PeerId
}

export async function createIdentity (): Promise<Identity> {
  const privateKey = await generateKeyPair('Ed25519')
  return { privateKey, peerId: peerIdFromPrivateKey(privateKey) }
}

/** Writes the key with mode 0600 and `wx` so an existing identity is never overwritten. */
export async function saveIdentity (path: string, identity: Identity): Promise<void> {
  await writeFile(path, privateKeyToProtobuf(identity.privateKey), { mode: 0o600, flag: 'wx' })
}

export async function loadIdentity (path: string): Promise<Identity> {
  let bytes: Uint8Array
  try {
    bytes = await readFile(path)
  } catch (err) {
    throw new KizunaError('ERR_IDENTITY_UNREADABLE', `cannot read identity key ${path}: ${(err as Error).message}`, { cause: err })
  }
  const info = await stat(path)
  if ((info.mode & 0o077) !== 0) {
    throw new KizunaError('ERR_IDENTITY_PERMISSIONS', `identity key ${path} is readable by others (mode ${(info.mode & 0o777).toString(8)}); run: chmod 600 ${path}`)
  }
  try {
    const privateKey = privateKeyFromProtobuf(bytes)
    return { privateKey, peerId: peerIdFromPrivateKey(privateKey) }
  } catch (err) {
    throw new KizunaError('ERR_IDENTITY_CORRUPT', `identity key ${path} is corrupt: ${(err as Error).message}`, { cause: err })
  }
}
