import type { Datastore, Key } from 'interface-datastore'

export const encodeJson = (value: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(value))
export const decodeJson = <T>(bytes: Uint8Array): T => JSON.parse(new TextDecoder().decode(bytes)) as T

/** The JSON value under `key`, or undefined when there is none */
export async function getJson<T> (datastore: Datastore, key: Key): Promise<T | undefined> {
  let bytes: Uint8Array
  try {
    bytes = await datastore.get(key)
  } catch {
    return undefined
  }
  return decodeJson<T>(bytes)
}
