// --import hook for child daemons: appends one JSON line per kad-dht query to $QLOG (ms since
// start, pid, who started it: the first Kizuna frames of the stack, else kad-dht's own)
import { appendFileSync, realpathSync } from 'node:fs'
import { createRequire } from 'node:module'
const log = process.env.QLOG
const require = createRequire(import.meta.url)
// the package exports no package.json: find its root from its main entry
const dir = realpathSync(require.resolve('@libp2p/kad-dht').replace(/\/dist\/src\/.*$/, ''))
const { QueryManager } = await import(`${dir}/dist/src/query/manager.js`)
const t0 = Date.now()
const run = QueryManager.prototype.run
Error.stackTraceLimit = 40
QueryManager.prototype.run = function (key, fn, options) {
  const frames = new Error().stack.split('\n').slice(2).map(l => l.trim().replace(/^at /, ''))
  const own = frames.filter(f => f.includes('/dist/src/') && !f.includes('node_modules')).map(f => f.replace(/\(?file:\/\/.*\/dist\/src\//, '').replace(/:\d+\)?$/, ''))
  const lib = frames.filter(f => f.includes('kad-dht/dist/src') && !f.includes('query/manager')).slice(0, 2).map(f => f.replace(/\(?file:\/\/.*kad-dht\/dist\/src\//, 'kad:').replace(/:\d+\)?$/, ''))
  if (log != null) appendFileSync(log, JSON.stringify({ t: Date.now() - t0, pid: process.pid, own: own.slice(0, 3), lib }) + '\n')
  return run.call(this, key, fn, options)
}
