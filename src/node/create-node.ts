import { KizunaNode } from './node.js'
import { applyOverrides, type ConfigOverrides } from './node-options.js'
import { Repo } from './repo.js'

export interface CreateNodeOptions {
  /** Repo directory; created with `kizuna init` semantics when `init` is set and it is missing */
  repo: string
  init?: boolean
  overrides?: ConfigOverrides
}

/** A node on the repo at `options.repo` (not started), with its config and the overrides applied */
export async function createNode (options: CreateNodeOptions): Promise<KizunaNode> {
  const repo = new Repo(options.repo)
  if (options.init === true && !(await repo.exists())) await repo.init()
  return new KizunaNode(repo, applyOverrides(await repo.loadConfig(), options.overrides))
}
