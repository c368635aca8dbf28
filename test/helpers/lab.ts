import { labAvailability } from '../../src/netlab/index.js'

/**
 * Why lab tests cannot run here, or undefined when they can. In CI (root there) they always
 * run, so a broken lab fails instead of hiding behind a skip.
 */
export async function labSkipReason (file: string): Promise<string | undefined> {
  const availability = await labAvailability()
  if (availability.ok || process.env.CI != null) return undefined
  const reason = `${file}: skipped, ${availability.reason} (set CI=1 to force these tests)`
  console.log(reason)
  return reason
}
