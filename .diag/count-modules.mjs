// --import hook: appends every module URL the process loads to $MODULE_LOG (one line each)
import { register } from 'node:module'
register(new URL('./count-modules-hooks.mjs', import.meta.url), { data: process.env.MODULE_LOG })
