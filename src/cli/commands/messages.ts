import { resolve } from 'node:path'
import { Command, Option } from 'commander'
import { action, clientFrom, printJson, withCommonOptions, type CommonOptions } from '../common.js'
import type { Contact } from '../../messaging/contacts.js'
import type { MessageRecord } from '../../messaging/message-store.js'
import type { MessageEvent } from '../../messaging/events.js'
import type { TopicMessage } from '../../messaging/topic-service.js'

function short (peerId: string): string {
  return peerId.length > 16 ? `${peerId.slice(0, 8)}…${peerId.slice(-6)}` : peerId
}

function line (record: MessageRecord, names: Map<string, string>): string {
  const who = names.get(record.peer) ?? short(record.peer)
  const when = new Date(record.sentAt).toISOString().replace('T', ' ').slice(0, 19)
  const file = record.file != null ? ` [file ${record.file.name}: ${record.file.link}]` : ''
  return record.direction === 'in'
    ? `${when}  ${who} → me: ${record.text}${file}`
    : `${when}  me → ${who}: ${record.text}${file}  (${record.status}${record.via != null ? ` via ${record.via}` : ''})`
}

async function namesOf (flags: CommonOptions): Promise<Map<string, string>> {
  const contacts = await (await clientFrom(flags)).get<Contact[]>('/contacts')
  return new Map(contacts.map(c => [c.peerId, c.name]))
}

/** Streams a long-lived NDJSON route until Ctrl-C; --json prints each event as one JSON line */
async function follow<T extends { type: string }> (flags: CommonOptions, path: string, body: unknown, render: (event: T) => string | undefined): Promise<void> {
  const controller = new AbortController()
  process.once('SIGINT', () => { controller.abort() })
  try {
    for await (const event of (await clientFrom(flags)).stream<T>(path, body, { signal: controller.signal })) {
      const text = flags.json === true ? JSON.stringify(event) : render(event)
      if (text !== undefined) process.stdout.write(text + '\n')
    }
  } catch (err) {
    if (!controller.signal.aborted) throw err
  }
}

export function contactCommand (): Command {
  const contact = new Command('contact').description('local names for peers (petnames; no global registry)')
  contact.addCommand(withCommonOptions(new Command('add')).argument('<name>').argument('<peer-id>').description('name a peer')
    .action(action(async (name: string, peerId: string, flags: CommonOptions) => {
      const added = await (await clientFrom(flags)).post<Contact>('/contacts/add', { name, peerId })
      if (flags.json === true) printJson(added)
      else console.log(`${added.name} = ${added.peerId}`)
    })))
  contact.addCommand(withCommonOptions(new Command('ls')).description('list contacts')
    .action(action(async (flags: CommonOptions) => {
      const list = await (await clientFrom(flags)).get<Contact[]>('/contacts')
      if (flags.json === true) { printJson(list); return }
      if (list.length === 0) { console.log('no contacts'); return }
      for (const c of list) console.log(`${c.name.padEnd(20)}  ${c.peerId}`)
    })))
  contact.addCommand(withCommonOptions(new Command('rm')).argument('<name>').description('forget a name (history stays)')
    .action(action(async (name: string, flags: CommonOptions) => {
      const removed = await (await clientFrom(flags)).post<Contact>('/contacts/rm', { name })
      if (flags.json === true) printJson(removed)
      else console.log(`removed ${removed.name}`)
    })))
  return contact
}

export function msgCommand (): Command {
  const msg = new Command('msg').description('direct messages: straight to an online friend, through its mailbox otherwise')
  msg.addCommand(withCommonOptions(new Command('send')).argument('<to>', 'contact name or peer id').argument('<text>')
    .addOption(new Option('--file <path>', 'also send a file (added encrypted; the friend gets a share link)'))
    .description('send a message')
    .action(action(async (to: string, text: string, flags: CommonOptions & { file?: string }) => {
      const sent = await (await clientFrom(flags)).post<MessageRecord>('/msg/send', { to, text, file: flags.file != null ? resolve(flags.file) : undefined }, { timeoutMs: 300_000 })
      if (flags.json === true) { printJson(sent); return }
      const how = sent.status === 'delivered' ? 'delivered' : sent.status === 'sent' ? 'stored in the friend\'s mailbox (offline)' : 'pending: nobody reachable yet; the daemon retries'
      console.log(`message ${sent.id} ${how}`)
    })))
  msg.addCommand(withCommonOptions(new Command('ls')).argument('[name]', 'contact name or peer id').description('conversation history')
    .action(action(async (name: string | undefined, flags: CommonOptions) => {
      const client = await clientFrom(flags)
      const list = await client.get<MessageRecord[]>(`/msg/ls${name != null ? `?peer=${encodeURIComponent(name)}` : ''}`)
      if (flags.json === true) { printJson(list); return }
      if (list.length === 0) { console.log('no messages'); return }
      const names = await namesOf(flags)
      for (const record of list) console.log(line(record, names))
    })))
  msg.addCommand(withCommonOptions(new Command('watch')).description('print messages as they arrive (Ctrl-C to stop)')
    .action(action(async (flags: CommonOptions) => {
      const names = flags.json === true ? new Map<string, string>() : await namesOf(flags)
      await follow<MessageEvent | { type: 'watching' }>(flags, '/msg/watch', {}, event => event.type === 'message'
        ? line(event.message, names)
        : event.type === 'status'
          ? `${event.id.slice(0, 8)} to ${names.get(event.peer) ?? short(event.peer)}: ${event.status}`
          : event.type === 'dropped' ? `(${event.count} older events dropped: this watch fell behind; msg ls has every message)` : undefined)
    })))
  return msg
}

export function pubCommand (): Command {
  return withCommonOptions(new Command('pub')).argument('<topic>').argument('<text>')
    .description('broadcast a message to every subscriber of a topic')
    .action(action(async (topic: string, text: string, flags: CommonOptions) => {
      const result = await (await clientFrom(flags)).post<{ topic: string, recipients: number }>('/pub', { topic, text })
      if (flags.json === true) printJson(result)
      else console.log(`published to ${topic} (sent to ${result.recipients} peers)`)
    }))
}

export function subCommand (): Command {
  return withCommonOptions(new Command('sub')).argument('<topic>')
    .description('print a topic\'s messages as they arrive (Ctrl-C to stop)')
    .action(action(async (topic: string, flags: CommonOptions) => {
      await follow<{ type: string } & Partial<TopicMessage>>(flags, '/sub', { topic }, event => event.type === 'message'
        ? `${new Date(event.sentAt ?? 0).toISOString().slice(11, 19)}  ${short(event.from ?? '')}: ${event.text ?? ''}`
        : `subscribed to ${topic}`)
    }))
}
