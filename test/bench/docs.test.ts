import { describe, it, expect, beforeEach, afterEach } from 'vitest'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { writeSection } from '../../bench/lib/docs.js'

const DOC = `# Benchmarks

## alpha

old alpha table

### Before and after (by hand)

kept notes

<!-- charts:alpha (scripts/bench-charts.mjs) -->
![chart](charts/alpha.svg)

## beta

beta text
`

describe('writeSection', () => {
  let dir: string
  let file: string
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kizuna-docs-'))
    file = join(dir, 'benchmarks.md')
  })
  afterEach(async () => { await rm(dir, { recursive: true, force: true }) })

  it.each([
    {
      name: 'replaces the generated text and keeps hand-written subsections and charts',
      body: 'new alpha table',
      section: 'alpha',
      expected: '## alpha\n\nnew alpha table\n\n### Before and after (by hand)\n\nkept notes\n\n<!-- charts:alpha (scripts/bench-charts.mjs) -->\n![chart](charts/alpha.svg)\n\n## beta\n\nbeta text\n'
    },
    {
      name: 'a subsection the new body writes itself is replaced, not doubled',
      body: 'new alpha\n\n### Before and after (by hand)\n\nnew notes',
      section: 'alpha',
      expected: '## alpha\n\nnew alpha\n\n### Before and after (by hand)\n\nnew notes\n\n<!-- charts:alpha (scripts/bench-charts.mjs) -->\n![chart](charts/alpha.svg)\n\n## beta\n\nbeta text\n'
    },
    {
      name: 'the last section, with nothing kept',
      body: 'beta again',
      section: 'beta',
      expected: '## beta\n\nbeta again\n'
    },
    {
      name: 'a new section is appended',
      body: 'gamma',
      section: 'gamma',
      expected: '## beta\n\nbeta text\n\n## gamma\n\ngamma\n'
    }
  ])('$name', async ({ body, section, expected }) => {
    await writeFile(file, DOC)
    await writeSection(section, body, file)
    const text = await readFile(file, 'utf8')
    expect(text.startsWith('# Benchmarks\n\n## alpha\n')).toBe(true)
    expect(text.endsWith(expected)).toBe(true)
  })

  it('a missing file is created with the header', async () => {
    await writeSection('alpha', 'first', file)
    const text = await readFile(file, 'utf8')
    expect(text.startsWith('# Benchmarks\n')).toBe(true)
    expect(text.endsWith('## alpha\n\nfirst\n')).toBe(true)
  })
})
