import { Command } from 'commander'

type Factory = () => Promise<Command[]>

/**
 * name → the module that defines it, imported only when that command runs: `kizuna id` loads
 * commander, the API client and its own module, never libp2p or the stores (a test walks the
 * graph: test/cli/startup.test.ts). Order is the order `--help` lists them in.
 */
const COMMANDS: Array<[string[], Factory]> = [
  [['init'], async () => [(await import('./commands/init.js')).initCommand()]],
  [['daemon'], async () => [(await import('./commands/daemon.js')).daemonCommand()]],
  [['id', 'status', 'stop'], async () => {
    const m = await import('./commands/node-info.js')
    return [m.idCommand(), m.statusCommand(), m.stopCommand()]
  }],
  [['peers', 'connect'], async () => {
    const m = await import('./commands/peers.js')
    return [m.peersCommand(), m.connectCommand()]
  }],
  [['add', 'get', 'providers', 'ls', 'rm', 'replicas', 'stats', 'gc', 'cat'], async () => {
    const m = await import('./commands/content.js')
    return [m.addCommand(), m.getCommand(), m.providersCommand(), m.lsCommand(), m.rmCommand(), m.replicasCommand(), m.statsCommand(), m.gcCommand(), m.catCommand()]
  }],
  [['ui'], async () => [(await import('./commands/ui.js')).uiCommand()]],
  [['config'], async () => [(await import('./commands/config.js')).configCommand()]],
  [['contact', 'msg', 'pub', 'sub'], async () => {
    const m = await import('./commands/messages.js')
    return [m.contactCommand(), m.msgCommand(), m.pubCommand(), m.subCommand()]
  }]
]

function root (): Command {
  return new Command('kizuna')
    .description('Kizuna: peer-to-peer file and message sharing with no central server')
    .version('0.1.0')
    .showHelpAfterError()
}

/** The whole command tree (help, completion, and tests that walk it: every command must honour --json) */
export async function buildProgram (): Promise<Command> {
  const program = root()
  for (const [, load] of COMMANDS) for (const command of await load()) program.addCommand(command)
  const { completionCommand } = await import('./commands/completion.js')
  program.addCommand(completionCommand(program))
  return program
}

/** Only the module of `name`'s command, or the whole tree for help, completion and typos */
async function programFor (name: string | undefined): Promise<Command> {
  const entry = COMMANDS.find(([names]) => name != null && names.includes(name))
  if (entry == null) return await buildProgram()
  const program = root()
  for (const command of await entry[1]()) program.addCommand(command)
  return program
}

/** Parses argv and runs the command */
export async function runCli (argv: string[]): Promise<void> {
  await (await programFor(argv[2])).parseAsync(argv)
}
