import '../shim.js'

// The daemon tunes its process with tuneProcess() once its node has started (earlier, the malloc
// warm-up and young-generation shrink measured ~8 MB more peak RSS); only the logger's colour
// decision must come before the commands (and libp2p, whose logger reads it as it loads) import.
// Imported only for the daemon: every other command starts without v8/vm and the buffer pool.
if (process.argv[2] === 'daemon') {
  const { decideDebugColors } = await import('../tune-process.js')
  decideDebugColors()
}
// `kizuna id` and its like need no command tree: no commander (src/cli/fast-path.ts)
const { runFastPath } = await import('./fast-path.js')
if (!await runFastPath(process.argv)) {
  const { runCli } = await import('./program.js')
  await runCli(process.argv)
}
