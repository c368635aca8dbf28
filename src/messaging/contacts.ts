import { Key, type Datastore } from 'interface-datastore'
import { peerIdFromString } from '@libp2p/peer-id'
import { MessagingError } from './errors.js'

const PREFIX = '/kizuna/contacts'
/** Petnames: letters, digits, `.`, `_`, `-`; never shaped like a peer id so the two cannot be confused */
const NAME_PATTERN = /^[\p{L}\p{N}._-]{1,64}$/u
export const MAX_CONTACTS = 10_000

export interface Contact { name: string, peerId: string, addedAt: string }

/** Local petnames for peers, kept in the repo's datastore; no global registry */
export class ContactBook {
  private readonly datastore: Datastore

  constructor (components: { datastore: Datastore }) {
    this.datastore = components.datastore
  }

  async add (name: string, peerId: string): Promise<Contact> {
    checkName(name)
    checkPeerId(peerId)
    if (!(await this.datastore.has(keyOf(name))) && (await this.list()).length >= MAX_CONTACTS) {
      throw new MessagingError('ERR_BAD_CONTACT', `at most ${MAX_CONTACTS} contacts`)
    }
    const contact: Contact = { name, peerId, addedAt: new Date().toISOString() }
    await this.datastore.put(keyOf(name), new TextEncoder().encode(JSON.stringify(contact)))
    return contact
  }

  async remove (name: string): Promise<Contact> {
    const contact = await this.get(name)
    if (contact == null) throw new MessagingError('ERR_UNKNOWN_CONTACT', `no contact named "${name}"`)
    await this.datastore.delete(keyOf(name))
    return contact
  }

  async get (name: string): Promise<Contact | undefined> {
    if (!NAME_PATTERN.test(name)) return undefined
    try {
      return JSON.parse(new TextDecoder().decode(await this.datastore.get(keyOf(name)))) as Contact
    } catch {
      return undefined
    }
  }

  async list (): Promise<Contact[]> {
    const out: Contact[] = []
    for await (const { value } of this.datastore.query({ prefix: PREFIX })) {
      out.push(JSON.parse(new TextDecoder().decode(value)) as Contact)
    }
    return out.sort((a, b) => a.name.localeCompare(b.name))
  }

  /** NAME or PEERID → peer id; an unknown name is ERR_UNKNOWN_CONTACT */
  async resolve (nameOrPeerId: string): Promise<string> {
    const contact = await this.get(nameOrPeerId)
    if (contact != null) return contact.peerId
    try {
      return peerIdFromString(nameOrPeerId).toString()
    } catch {
      throw new MessagingError('ERR_UNKNOWN_CONTACT', `"${nameOrPeerId}" is neither a contact (see "kizuna contact ls") nor a peer id`)
    }
  }

  /** peer id → its petname, for display */
  async nameOf (peerId: string): Promise<string | undefined> {
    return (await this.list()).find(c => c.peerId === peerId)?.name
  }
}

function keyOf (name: string): Key {
  return new Key(`${PREFIX}/${Buffer.from(name).toString('hex')}`)
}

function checkName (name: string): void {
  if (!NAME_PATTERN.test(name)) {
    throw new MessagingError('ERR_BAD_CONTACT', `contact name "${name.slice(0, 80)}" must be 1-64 letters, digits, ".", "_" or "-"`)
  }
  let isPeerId = false
  try { peerIdFromString(name); isPeerId = true } catch {}
  if (isPeerId) throw new MessagingError('ERR_BAD_CONTACT', 'a contact name cannot be a peer id')
}

function checkPeerId (peerId: string): void {
  let parsed
  try {
    parsed = peerIdFromString(peerId)
  } catch (err) {
    throw new MessagingError('ERR_BAD_CONTACT', `"${peerId.slice(0, 80)}" is not a peer id`, { cause: err })
  }
  if (parsed.type !== 'Ed25519') throw new MessagingError('ERR_BAD_CONTACT', 'only Ed25519 peer ids can receive messages')
}
