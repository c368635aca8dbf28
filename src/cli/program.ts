import { Command } from 'commander'
import { initCommand } from './commands/init.js'
import { daemonCommand } from './commands/daemon.js'
import { idCommand, statusCommand, stopCommand } from './commands/node-info.js'
import { connectCommand, peersCommand } from './commands/peers.js'
import { contactCommand, msgCommand, pubCommand, subCommand } from './commands/messages.js'
import { uiCommand } from './commands/ui.js'
import { configCommand } from './commands/config.js'
import { completionCommand } from './commands/completion.js'
import { addCommand, catCommand, getCommand, lsCommand, providersCommand, replicasCommand, rmCommand, statsCommand, gcCommand } from './commands/content.js'

/** The whole command tree (tests walk it: every command must honour --json) */
export function buildProgram (): Command {
  const program = new Command('kizuna')
    .description('Kizuna: peer-to-peer file and message sharing with no central server')
    .version('0.1.0')
    .showHelpAfterError()

  for (const command of [initCommand(), daemonCommand(), idCommand(), peersCommand(), connectCommand(), statusCommand(), stopCommand(),
    addCommand(), getCommand(), providersCommand(), lsCommand(), rmCommand(), replicasCommand(), statsCommand(), gcCommand(), uiCommand(), catCommand(), configCommand()]) {
    program.addCommand(command)
  }
  for (const command of [contactCommand(), msgCommand(), pubCommand(), subCommand()]) program.addCommand(command)
  program.addCommand(completionCommand(program))
  return program
}

/** Parses argv and runs the command */
export async function runCli (argv: string[]): Promise<void> {
  await buildProgram().parseAsync(argv)
}
