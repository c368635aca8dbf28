import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll } from 'vitest'
import { Testnet } from '../../src/testnet/testnet.js'

/**
 * One testnet and one scratch directory for a whole test file, started before its first test and
 * removed after its last. Call it at the top level of a describe: it registers its own hooks.
 */
export function useTestnet (options: Parameters<typeof Testnet.start>[0], dirPrefix: string): { readonly testnet: Testnet, readonly dir: string } {
  let testnet: Testnet | undefined
  let dir: string | undefined

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), dirPrefix))
    testnet = await Testnet.start(options)
  })

  afterAll(async () => {
    await testnet?.stop()
    if (dir !== undefined) await rm(dir, { recursive: true, force: true })
  })

  return {
    get testnet () {
      if (testnet === undefined) throw new Error('the testnet is not started (used outside a test?)')
      return testnet
    },
    get dir () {
      if (dir === undefined) throw new Error('the scratch directory is not made (used outside a test?)')
      return dir
    }
  }
}
