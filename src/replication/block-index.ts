import { MAX_INDEXED_BLOCKS } from './constants.js'

interface RootBlocks { bytes: number, blocks: string[] }

/**
 * Which held root a served block belongs to, so demand is counted per root in whole-file
 * equivalents. Bounded: blocks past MAX_INDEXED_BLOCKS are not indexed (their demand is then
 * seen through HAVE queries only); a dropped root is forgotten with all its blocks.
 */
export class BlockIndex {
  private readonly blockToRoot = new Map<string, string>()
  private readonly roots = new Map<string, RootBlocks>()
  private readonly maxBlocks: number

  constructor (maxBlocks = MAX_INDEXED_BLOCKS) {
    this.maxBlocks = maxBlocks
  }

  add (root: string, blocks: Array<{ key: string, size: number }>): void {
    this.remove(root)
    const room = Math.max(0, this.maxBlocks - this.blockToRoot.size)
    const kept = blocks.slice(0, room).map(b => b.key)
    if (kept.length === 0) return
    this.roots.set(root, { bytes: blocks.reduce((sum, b) => sum + b.size, 0), blocks: kept })
    for (const key of kept) this.blockToRoot.set(key, root)
  }

  /** The root a block belongs to, and that root's total bytes */
  rootOf (block: string): { root: string, rootBytes: number } | undefined {
    const root = this.blockToRoot.get(block)
    if (root === undefined) return undefined
    return { root, rootBytes: this.roots.get(root)?.bytes ?? 0 }
  }

  remove (root: string): void {
    const entry = this.roots.get(root)
    if (entry === undefined) return
    this.roots.delete(root)
    // a block shared with another root stays mapped to that one
    for (const key of entry.blocks) {
      if (this.blockToRoot.get(key) === root) this.blockToRoot.delete(key)
    }
  }

  /** Forgets every root not in `held` (content removed by any path) */
  retain (held: Set<string>): void {
    for (const root of [...this.roots.keys()]) {
      if (!held.has(root)) this.remove(root)
    }
  }

  sizes (): { indexedBlocks: number, indexedRoots: number } {
    return { indexedBlocks: this.blockToRoot.size, indexedRoots: this.roots.size }
  }
}
