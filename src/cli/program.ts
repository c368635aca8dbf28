import { Command } from 'commander'

type Factory = () => Promise<Command>

const nodeInfo = async (): Promise<typeof import('./commands/node-info.js')> => await import('./commands/node-info.js')
const peers = async (): Promise<typeof import('./commands/peers.js')> => await import('./commands/peers.js')
const content = async (): Promise<typeof import('./commands/content.js')> => await import('./commands/content.js')
const messages = async (): Promise<typeof import('./commands/messages.js')> => await import('./commands/messages.js')

/**
 * name → its command, from a module imported only when that command runs: `kizuna id` loads
 * commander, the API client and its own module, never libp2p or the stores (a test walks the
 * graph: test/cli/startup.test.ts). This is the order `--help` lists them in.
 */
const COMMANDS: Array<[string, Factory]> = [
  ['init', async () => (await import('./commands/init.js')).initCommand()],
  ['daemon', async () => (await import('./commands/daemon.js')).daemonCommand()],
  ['id', async () => (await nodeInfo()).idCommand()],
  ['peers', async () => (await peers()).peersCommand()],
  ['connect', async () => (await peers()).connectCommand()],
  ['status', async () => (await nodeInfo()).statusCommand()],
  ['stop', async () => (await nodeInfo()).stopCommand()],
  ['add', async () => (await content()).addCommand()],
  ['get', async () => (await content()).getCommand()],
  ['providers', async () => (await content()).providersCommand()],
  ['ls', async () => (await content()).lsCommand()],
  ['rm', async () => (await content()).rmCommand()],
  ['replicas', async () => (await content()).replicasCommand()],
  ['stats', async () => (await content()).statsCommand()],
  ['gc', async () => (await content()).gcCommand()],
  ['ui', async () => (await import('./commands/ui.js')).uiCommand()],
  ['cat', async () => (await content()).catCommand()],
  ['config', async () => (await import('./commands/config.js')).configCommand()],
  ['contact', async () => (await messages()).contactCommand()],
  ['msg', async () => (await messages()).msgCommand()],
  ['pub', async () => (await messages()).pubCommand()],
  ['sub', async () => (await messages()).subCommand()]
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
  for (const [, load] of COMMANDS) program.addCommand(await load())
  const { completionCommand } = await import('./commands/completion.js')
  program.addCommand(completionCommand(program))
  return program
}

/** Only the module of `name`'s command, or the whole tree for help, completion and typos */
async function programFor (name: string | undefined): Promise<Command> {
  const entry = COMMANDS.find(([command]) => command === name)
  if (entry == null) return await buildProgram()
  return root().addCommand(await entry[1]())
}

/** Parses argv and runs the command */
export async function runCli (argv: string[]): Promise<void> {
  await (await programFor(argv[2])).parseAsync(argv)
}
