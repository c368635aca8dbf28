import { AsyncQueue } from '../util/async-queue.js'

/**
 * One fetch of a root per node: the first request starts it, later ones (a get racing a replica
 * fetch, a second get) join it and follow its events from then on. It runs until it ends or its
 * last participant leaves; one participant giving up (Ctrl-C) does not stop it for the others.
 */
export class SharedFetch<E extends { type: string }, C = undefined> {
  /** What the session's participants share besides its events (where its blocks go) */
  readonly context: C
  private readonly controller = new AbortController()
  private readonly followers = new Set<AsyncQueue<E>>()
  private participants = 0
  private finished = false
  private readonly onIdle: () => void

  constructor (run: (signal: AbortSignal, context: C) => AsyncIterable<E>, onIdle: () => void, context: C) {
    this.onIdle = onIdle
    this.context = context
    void this.drive(run(this.controller.signal, context))
  }

  private async drive (events: AsyncIterable<E>): Promise<void> {
    try {
      for await (const event of events) {
        // progress is a snapshot: a slow follower sees the newest one, not a backlog
        for (const queue of this.followers) queue.push(event, { latest: event.type.endsWith(':progress') })
      }
      this.finish()
    } catch (err) {
      this.finish(err)
    }
  }

  private finish (err?: unknown): void {
    this.finished = true
    this.onIdle()
    for (const queue of this.followers) queue.end(err)
  }

  get active (): boolean {
    return !this.finished && !this.controller.signal.aborted
  }

  /** The session's events for one participant until it ends; throws its error or `signal`'s reason */
  async * follow (signal?: AbortSignal): AsyncGenerator<E> {
    const queue = new AsyncQueue<E>()
    this.followers.add(queue)
    this.participants++
    const leave = (): void => { queue.end(signal?.reason ?? new Error('aborted')) }
    signal?.addEventListener('abort', leave, { once: true })
    if (signal?.aborted === true) leave()
    try {
      yield * queue
    } finally {
      signal?.removeEventListener('abort', leave)
      this.followers.delete(queue)
      if (--this.participants === 0 && !this.finished) {
        this.onIdle()
        this.controller.abort(new Error('every request for this content left'))
      }
    }
  }
}

/** key → the running session of it */
export class SharedFetches<E extends { type: string }, C = undefined> {
  private readonly sessions = new Map<string, SharedFetch<E, C>>()

  /** The running session for `key`, or a new one running `run` with the context `makeContext` makes */
  join (key: string, run: (signal: AbortSignal, context: C) => AsyncIterable<E>, makeContext: () => C = () => undefined as C): SharedFetch<E, C> {
    const running = this.sessions.get(key)
    if (running?.active === true) return running
    const session: SharedFetch<E, C> = new SharedFetch(run, () => {
      if (this.sessions.get(key) === session) this.sessions.delete(key)
    }, makeContext())
    this.sessions.set(key, session)
    return session
  }

  get size (): number {
    return this.sessions.size
  }
}
