import hashlruCjs from 'hashlru'

/** A bounded least-recently-used map (hashlru: holds between `max` and 2×`max` entries) */
export interface Lru<V> {
  get(key: string): V | undefined
  set(key: string, value: V): void
  has(key: string): boolean
  remove(key: string): void
  clear(): void
}

// hashlru is CommonJS whose types declare an ES default export: imported from ESM, the default
// import is the function itself
const hashlru = hashlruCjs as unknown as typeof hashlruCjs.default

export function createLru<V> (max: number): Lru<V> {
  return hashlru(max)
}
