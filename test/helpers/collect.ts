/** Every event a generator yields, in order */
export async function collect<T> (events: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = []
  for await (const event of events) {
    out.push(event)
  }
  return out
}
