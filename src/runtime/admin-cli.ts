/**
 * `coffer admin …`: the operator's client for /_coffer/admin/ (commands in admin-commands.ts),
 * signing each request with the root credentials (SigV4, our own signer) over HTTPS.
 */
import { existsSync, readFileSync } from 'node:fs'
import { request } from 'node:https'
import { join, resolve } from 'node:path'
import { signRequest } from '../s3/auth/sign.ts'
import { type AdminCall, ADMIN_FLAGS, ADMIN_GROUPS, ADMIN_NOTES, adminVerbSpec } from './admin-commands.ts'
import { EXIT_USAGE, type FlagValues, parseFlags, splitWords, usageError } from './args.ts'
import type { Output } from './bootstrap.ts'
import { commandHelp, commandList, flagLines } from './help.ts'
import { createPlatform } from './platform.ts'

export interface AdminTarget {
  endpoint: string
  ca?: string
  region: string
  accessKeyId: string
  secretAccessKey: string
}

export interface AdminResponse {
  status: number
  body: unknown
}

/** One signed JSON call to the admin API. */
export function adminCall(t: AdminTarget, method: string, path: string, payload?: unknown): Promise<AdminResponse> {
  const url = new URL(`/_coffer/admin${path}`, t.endpoint).toString()
  const body = payload === undefined ? '' : JSON.stringify(payload)
  const headers = signRequest(createPlatform(), {
    method,
    url,
    body,
    region: t.region,
    accessKeyId: t.accessKeyId,
    secretAccessKey: t.secretAccessKey,
    headers: body ? { 'content-type': 'application/json' } : {},
  })
  return new Promise((resolvePromise, reject) => {
    const req = request(
      url,
      {
        method,
        headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) },
        ca: t.ca,
        timeout: 600_000,
      },
      (res) => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8')
          let parsed: unknown = text
          try {
            parsed = JSON.parse(text)
          } catch {
            // not JSON: keep the text for the message
          }
          resolvePromise({ status: res.statusCode ?? 0, body: parsed })
        })
      },
    )
    req.on('timeout', () => req.destroy(new Error('the admin request timed out')))
    req.on('error', reject)
    req.end(body)
  })
}

/** Help for some groups (every group for `coffer admin --help`): verbs with their own flags, then the common ones. */
export function adminHelp(groups: readonly string[] = Object.keys(ADMIN_GROUPS)): string {
  const lines = [`Usage: coffer admin ${groups.length === 1 ? groups[0] : 'GROUP'} VERB [ARGS] [flags]`, '', 'Verbs:']
  for (const g of groups)
    for (const [name, v] of Object.entries(ADMIN_GROUPS[g]!.verbs)) {
      lines.push(...commandList([adminVerbSpec(g, name, v)]))
      lines.push(...flagLines(v.flags, { help: false }).map((l) => `    ${l}`))
    }
  const defaults = groups
    .filter((g) => ADMIN_GROUPS[g]!.default)
    .map((g) => `\`coffer admin ${g}\` runs ${g} ${ADMIN_GROUPS[g]!.default}.`)
  const notes = [...ADMIN_NOTES, ...defaults]
  return [...lines, '', 'Flags of every verb (before or after it):', ...flagLines(ADMIN_FLAGS), '', ...notes, ''].join(
    '\n',
  )
}

/** Resolves the words and flags into a request, or says what to change (help is { help }). */
export function adminRequest(
  argv: readonly string[],
  env: Record<string, string | undefined>,
):
  | { help: string }
  | { problems: string[]; command: string }
  | { call: AdminCall; flags: FlagValues<typeof ADMIN_FLAGS> } {
  const { words, rest, help } = splitWords(ADMIN_FLAGS, argv, 2)
  const [group, named] = words
  // `coffer admin heal` runs heal status; `coffer admin heal --help` shows the group.
  const verbName = named ?? (help || group === undefined ? undefined : ADMIN_GROUPS[group]?.default)
  const groups = Object.keys(ADMIN_GROUPS)
  if (group === undefined)
    return help
      ? { help: adminHelp() }
      : { problems: [`which group? the groups are ${groups.join(', ')}`], command: 'coffer admin' }
  const g = ADMIN_GROUPS[group]
  if (!g)
    return { problems: [`unknown group "${group}": the groups are ${groups.join(', ')}`], command: 'coffer admin' }
  const verbs = Object.keys(g.verbs)
  if (verbName === undefined)
    return help
      ? { help: adminHelp([group]) }
      : { problems: [`which verb? ${group} has ${verbs.join(', ')}`], command: `coffer admin ${group}` }
  const v = g.verbs[verbName]
  if (!v)
    return {
      problems: [`unknown verb "${verbName}": ${group} has ${verbs.join(', ')}`],
      command: `coffer admin ${group}`,
    }
  const spec = adminVerbSpec(group, verbName, v)
  const p = parseFlags(spec, rest, env)
  if (p.help) return { help: commandHelp(spec) }
  const call = p.problems.length ? undefined : v.request(p.positionals, p.values)
  if (call === undefined || typeof call === 'string')
    return { problems: call ? [call] : p.problems, command: spec.name }
  return { call, flags: p.values as FlagValues<typeof ADMIN_FLAGS> }
}

export async function runAdminCommand(
  argv: string[],
  env: Record<string, string | undefined>,
  io: Output,
): Promise<number> {
  const r = adminRequest(argv, env)
  if ('help' in r) {
    io.out(r.help)
    return 0
  }
  if ('problems' in r) return usageError(io, r.command, r.problems)
  const { call, flags } = r
  const dataDir = resolve(flags.data)
  let accessKeyId = env.COFFER_ROOT_ACCESS_KEY || undefined
  let secretAccessKey = env.COFFER_ROOT_SECRET_KEY || undefined
  const credFile = join(dataDir, 'credentials.json')
  if ((!accessKeyId || !secretAccessKey) && existsSync(credFile)) {
    const c = JSON.parse(readFileSync(credFile, 'utf8')) as { accessKeyId: string; secretAccessKey: string }
    accessKeyId = c.accessKeyId
    secretAccessKey = c.secretAccessKey
  }
  if (!accessKeyId || !secretAccessKey) {
    io.err(
      'coffer admin: no root credentials: set COFFER_ROOT_ACCESS_KEY and COFFER_ROOT_SECRET_KEY, or pass --data DIR',
    )
    return EXIT_USAGE
  }
  const caFile = flags.ca ?? (existsSync(join(dataDir, 'tls', 'ca.pem')) ? join(dataDir, 'tls', 'ca.pem') : undefined)
  const target: AdminTarget = {
    endpoint: flags.endpoint,
    ca: caFile ? readFileSync(caFile, 'utf8') : undefined,
    region: flags.region,
    accessKeyId,
    secretAccessKey,
  }
  const json = flags.json
  let payload = call.payload
  if (call.payloadFile) {
    try {
      const text = readFileSync(call.payloadFile.path, 'utf8')
      payload = { ...(payload as Record<string, unknown>), [call.payloadFile.field]: text }
    } catch (e) {
      io.err(`coffer admin: cannot read ${call.payloadFile.path}: ${e instanceof Error ? e.message : String(e)}`)
      return EXIT_USAGE
    }
  }
  try {
    const res = await adminCall(target, call.method, call.path, payload)
    const body = res.body
    if (res.status >= 400) {
      io.err(`coffer admin: ${res.status}: ${typeof body === 'string' ? body : JSON.stringify(body)}`)
      return 1
    }
    const text =
      typeof body === 'string'
        ? body
        : !json && call.format && body && typeof body === 'object'
          ? call.format(body as Record<string, unknown>)
          : JSON.stringify(body, null, json ? 0 : 2)
    io.out(text)
    return 0
  } catch (e) {
    io.err(`coffer admin: cannot reach ${target.endpoint}: ${e instanceof Error ? e.message : String(e)}`)
    return 1
  }
}
