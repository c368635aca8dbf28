import type { CID } from 'multiformats/cid'
import type { BlockStore, PutOptions } from './block-store.js'

/** `store` with put() replaced: a view that sends writes elsewhere and reads from `store` */
export function withPut (store: BlockStore, put: (cid: CID, bytes: Uint8Array, options?: PutOptions) => Promise<void>): BlockStore {
  return {
    has: store.has.bind(store),
    get: store.get.bind(store),
    getInto: store.getInto?.bind(store),
    put,
    putReleasesBytes: store.putReleasesBytes,
    putReference: store.putReference?.bind(store),
    reference: store.reference?.bind(store),
    deleteReference: store.deleteReference?.bind(store),
    delete: store.delete.bind(store),
    size: store.size.bind(store)
  }
}
