// Bundles the dashboard (ui/) into dist/ui/, which the daemon serves: no CDN, works offline.
// Runs after tsc in `npm run build` and `prepare`, so `npm ci` produces it.
import { build } from 'esbuild'
import { copyFile, mkdir, rm } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const out = join(root, 'dist', 'ui')
await rm(out, { recursive: true, force: true })
await mkdir(join(out, 'assets'), { recursive: true })
await build({
  entryPoints: { app: join(root, 'ui', 'src', 'main.tsx') },
  outdir: join(out, 'assets'),
  bundle: true,
  minify: true,
  sourcemap: true,
  format: 'esm',
  target: ['chrome110', 'firefox110', 'safari16'],
  jsx: 'automatic',
  jsxImportSource: 'preact',
  loader: { '.css': 'css' },
  logLevel: 'warning',
  legalComments: 'none'
})
await copyFile(join(root, 'ui', 'index.html'), join(out, 'index.html'))
