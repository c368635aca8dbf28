import { appendFileSync } from 'node:fs'
let log
export function initialize (file) { log = file }
export async function load (url, context, next) { if (log != null) appendFileSync(log, url + '\n'); return next(url, context) }
