import { spawn } from 'node:child_process'
import { Command, Option } from 'commander'
import { action, clientFrom, printJson, withCommonOptions, type CommonOptions } from '../common.js'

interface UiFlags extends CommonOptions { open?: boolean }

/** The platform's "open this URL" program */
function opener (): string[] {
  if (process.platform === 'darwin') return ['open']
  if (process.platform === 'win32') return ['cmd', '/c', 'start', '']
  return ['xdg-open']
}

/**
 * `kizuna ui`: a one-use login link to the daemon's dashboard. The link carries a ticket, not
 * the API token; the daemon trades it for a session cookie and the ticket is dead afterwards.
 */
export function uiCommand (): Command {
  return withCommonOptions(new Command('ui'))
    .description('print (or --open) a one-use login link to the dashboard of the running daemon')
    .addOption(new Option('--open', 'open the link in the default browser'))
    .action(action(async (flags: UiFlags) => {
      const client = await clientFrom(flags)
      const { path } = await client.post<{ ticket: string, path: string }>('/ui/ticket')
      const url = `http://${client.api}${path}`
      if (flags.json === true) printJson({ url })
      else {
        console.log(url)
        console.log('(the link logs one browser in once, within 2 minutes)')
      }
      if (flags.open === true) {
        const [command, ...args] = opener()
        const child = spawn(command, [...args, url], { stdio: 'ignore', detached: true })
        child.on('error', err => { process.stderr.write(`could not open a browser (${err.message}); paste the link instead\n`) })
        child.unref()
      }
    }))
}
