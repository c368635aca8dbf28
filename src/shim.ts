// libp2p v3 (it-queue, yamux, ping, mortice) calls Promise.withResolvers, which Node 20 lacks.
// Without it every connection dies with a bare ECONNRESET, so every entry point imports this first.
interface Resolvers<T> {
  promise: Promise<T>
  resolve: (value: T | PromiseLike<T>) => void
  reject: (reason?: unknown) => void
}

const PromiseCtor = Promise as unknown as { withResolvers?: <T>() => Resolvers<T> }

if (typeof PromiseCtor.withResolvers !== 'function') {
  PromiseCtor.withResolvers = function withResolvers<T> (): Resolvers<T> {
    let resolve!: Resolvers<T>['resolve']
    let reject!: Resolvers<T>['reject']
    const promise = new Promise<T>((res, rej) => { resolve = res; reject = rej })
    return { promise, resolve, reject }
  }
}
