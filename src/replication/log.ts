import { logger } from '@libp2p/logger'

/** Replication's diagnostics: `DEBUG=kizuna:replication*` (the daemon prints the typed events) */
export const log = logger('kizuna:replication')
