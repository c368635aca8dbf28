import { describe, expect, it } from 'vitest'
import { reusableConnection } from '../../src/libp2p/reusable-connection.js'

type Fake = { name: string, status: 'open' | 'closing' | 'closed', limits?: { bytes?: bigint } }
const direct = (name: string, status: Fake['status'] = 'open'): Fake => ({ name, status })
const relayed = (name: string, status: Fake['status'] = 'open'): Fake => ({ name, status, limits: { bytes: 131072n } })

describe('reusableConnection', () => {
  const cases: Array<[string, Fake[], string | undefined]> = [
    ['none', [], undefined],
    ['only closed ones', [direct('d', 'closed'), relayed('r', 'closing')], undefined],
    ['one direct', [direct('d')], 'd'],
    ['one relayed', [relayed('r')], 'r'],
    ['direct preferred over an earlier relayed one', [relayed('r'), direct('d')], 'd'],
    ['first of several relayed', [relayed('r1'), relayed('r2')], 'r1'],
    ['a closing direct one is skipped', [direct('d', 'closing'), relayed('r')], 'r'],
    ['first open direct one', [direct('d1', 'closed'), direct('d2'), direct('d3')], 'd2']
  ]
  for (const [name, connections, expected] of cases) {
    it(name, () => {
      expect(reusableConnection(connections)?.name).toBe(expected)
    })
  }
})
