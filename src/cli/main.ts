import '../shim.js'
import { tuneProcess } from '../tune-process.js'

// The daemon is the long-running process the tuning is for; it runs before the commands (and
// libp2p, whose logger reads DEBUG_COLORS as it loads) are imported.
if (process.argv[2] === 'daemon') {
  tuneProcess()
}
const { runCli } = await import('./program.js')
await runCli(process.argv)
