import { Key, type Datastore } from 'interface-datastore'
import type { CID } from 'multiformats/cid'

export type ReplicaRole = 'origin' | 'floor' | 'demand'

/** Why we hold a root and how many live copies the network should keep */
export interface ReplicaMeta {
  floor: number
  role: ReplicaRole
}

const PREFIX = '/kizuna/replication/'

/** Replica metadata survives restarts: a restarted holder keeps watching the floor */
export class ReplicaMetaStore {
  private readonly datastore: Datastore
  private readonly cache = new Map<string, ReplicaMeta>()

  constructor (datastore: Datastore) {
    this.datastore = datastore
  }

  async load (): Promise<void> {
    for await (const { key, value } of this.datastore.query({ prefix: PREFIX })) {
      try {
        this.cache.set(key.toString().slice(PREFIX.length), JSON.parse(new TextDecoder().decode(value)) as ReplicaMeta)
      } catch {
        // a corrupt entry only loses the floor of one root; the content itself is unaffected
      }
    }
  }

  get size (): number {
    return this.cache.size
  }

  get (root: CID | string): ReplicaMeta | undefined {
    return this.cache.get(root.toString())
  }

  async set (root: CID | string, meta: ReplicaMeta): Promise<void> {
    this.cache.set(root.toString(), meta)
    await this.datastore.put(new Key(PREFIX + root.toString()), new TextEncoder().encode(JSON.stringify(meta)))
  }

  async delete (root: CID | string): Promise<void> {
    this.cache.delete(root.toString())
    await this.datastore.delete(new Key(PREFIX + root.toString()))
  }
}
