/**
 * `coffer admin …`: the operator's client for /_coffer/admin/, signing each request with the
 * root credentials (SigV4, our own signer) over HTTPS that trusts the given CA.
 */
import { existsSync, readFileSync } from 'node:fs'
import { request } from 'node:https'
import { join, resolve } from 'node:path'
import { signRequest } from '../s3/auth/sign.ts'
import type { Output } from './bootstrap.ts'
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

/** A verb: how to call the API from the remaining arguments (or a usage problem). */
type Verb = (args: string[]) => AdminCall | string

interface AdminCall {
  method: string
  path: string
  payload?: unknown
  /** Human-readable output (without --json); JSON otherwise. */
  format?: (body: Record<string, unknown>) => string
}

/** `--flag VALUE` pairs and bare `--switch`es after the verb; positional arguments in order. */
function parseArgs(
  args: string[],
  valued: string[],
  switches: string[],
): { pos: string[]; flags: Record<string, string | true> } | string {
  const pos: string[] = []
  const flags: Record<string, string | true> = {}
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!
    if (valued.includes(a)) {
      const v = args[++i]
      if (v === undefined) return `${a} needs a value`
      flags[a.slice(2)] = v
    } else if (switches.includes(a)) flags[a.slice(2)] = true
    else if (a.startsWith('--')) return `unknown option ${a}`
    else pos.push(a)
  }
  return { pos, flags }
}

const enc = encodeURIComponent

/** Command table: group → verb → request. */
export const ADMIN_COMMANDS: Record<string, Record<string, Verb>> = {
  heal: {
    status: () => ({ method: 'GET', path: '/heal' }),
    run: () => ({ method: 'POST', path: '/heal' }),
  },
  namespace: {
    create: (args) => {
      const p = parseArgs(args, ['--encryption'], [])
      if (typeof p === 'string') return p
      const [name] = p.pos
      const e = p.flags.encryption ?? 'on'
      if (!name || p.pos.length > 1) return 'usage: namespace create NAME [--encryption on|off]'
      if (e !== 'on' && e !== 'off') return '--encryption takes on or off'
      return { method: 'POST', path: '/namespaces', payload: { name, encryption: e === 'on' } }
    },
    list: () => ({
      method: 'GET',
      path: '/namespaces',
      format: (b) =>
        (b.namespaces as { name: string; encryption: boolean; keyVersion: number }[])
          .map(
            (n) =>
              `${n.name}\tencryption ${n.encryption ? 'on' : 'off'}${n.encryption ? `\tkey v${n.keyVersion}` : ''}`,
          )
          .join('\n'),
    }),
    delete: (args) => {
      const p = parseArgs(args, [], ['--force'])
      if (typeof p === 'string') return p
      if (p.pos.length !== 1) return 'usage: namespace delete NAME [--force]'
      return { method: 'DELETE', path: `/namespaces/${enc(p.pos[0]!)}${p.flags.force ? '?force=true' : ''}` }
    },
  },
  user: {
    create: (args) => {
      const p = parseArgs(args, ['--namespace'], [])
      if (typeof p === 'string') return p
      if (p.pos.length !== 1 || typeof p.flags.namespace !== 'string')
        return 'usage: user create NAME --namespace NS [--json]'
      return {
        method: 'POST',
        path: '/users',
        payload: { name: p.pos[0], namespace: p.flags.namespace },
        format: (b) =>
          [
            `User ${String(b.name)} in namespace ${String(b.namespace)}`,
            `  Access key: ${String(b.accessKeyId)}`,
            `  Secret key: ${String(b.secretAccessKey)}`,
            'The secret is shown only now: store it safely.',
          ].join('\n'),
      }
    },
    list: (args) => {
      const p = parseArgs(args, ['--namespace'], [])
      if (typeof p === 'string') return p
      return {
        method: 'GET',
        path: `/users${typeof p.flags.namespace === 'string' ? `?namespace=${enc(p.flags.namespace)}` : ''}`,
        format: (b) =>
          (b.users as { accessKeyId: string; name: string; namespace: string; isRoot: boolean }[])
            .map((u) => `${u.accessKeyId}\t${u.name}\t${u.namespace}${u.isRoot ? '\troot' : ''}`)
            .join('\n'),
      }
    },
    delete: (args) =>
      args.length === 1 && !args[0]!.startsWith('--')
        ? { method: 'DELETE', path: `/users/${enc(args[0]!)}` }
        : 'usage: user delete ACCESSKEY',
  },
  key: {
    rotate: (args) => {
      const p = parseArgs(args, ['--namespace'], ['--master'])
      if (typeof p === 'string') return p
      if (p.flags.master === true && p.flags.namespace === undefined)
        return { method: 'POST', path: '/keys/rotate', payload: { master: true } }
      if (typeof p.flags.namespace === 'string' && p.flags.master === undefined)
        return { method: 'POST', path: '/keys/rotate', payload: { namespace: p.flags.namespace } }
      return 'usage: key rotate --master | key rotate --namespace NS'
    },
  },
}

const USAGE = [
  'Usage: coffer admin [--endpoint URL] [--ca FILE] [--data DIR] [--region R] [--json] GROUP VERB [ARGS]',
  '  heal status                             stores up/down, heal backlog, durability counters',
  '  heal run                                scrub every object now, heal what needs it, collect garbage',
  '  namespace create NAME [--encryption on|off]   a tenant; D@RE (AES-256) on by default, fixed for life',
  '  namespace list',
  '  namespace delete NAME [--force]         destroys its key (crypto-erase); --force deletes its buckets first',
  '  user create NAME --namespace NS         prints the new access key and secret (once)',
  '  user list [--namespace NS]',
  '  user delete ACCESSKEY',
  '  key rotate --master                     new master key: re-wraps namespace keys, rewrites the key file',
  '  key rotate --namespace NS               new namespace key: re-wraps its object keys',
  'Root credentials: COFFER_ROOT_ACCESS_KEY / COFFER_ROOT_SECRET_KEY, else <data>/credentials.json.',
  'Defaults: --endpoint https://127.0.0.1:9000, --data ./data (for credentials.json and tls/ca.pem).',
].join('\n')

export async function runAdminCommand(
  argv: string[],
  env: Record<string, string | undefined>,
  io: Output,
): Promise<number> {
  const opts: Record<string, string> = {}
  const rest: string[] = []
  let json = false
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!
    if (a === '--json') json = true
    else if (a === '--help' || a === '-h') return (io.out(USAGE), 0)
    else if (a.startsWith('--') && ['--endpoint', '--ca', '--data', '--region'].includes(a)) {
      const v = argv[++i]
      if (v === undefined) return (io.err(`coffer admin: ${a} needs a value\n${USAGE}`), 2)
      opts[a.slice(2)] = v
    } else rest.push(a)
  }
  const [group, verb = 'status', ...args] = rest
  const make = group ? ADMIN_COMMANDS[group]?.[verb] : undefined
  if (!make) return (io.err(`coffer admin: unknown command "${rest.join(' ')}"\n${USAGE}`), 2)
  const call = make(args)
  if (typeof call === 'string') return (io.err(`coffer admin: ${call}`), 2)
  const dataDir = resolve(opts.data ?? env.COFFER_DATA ?? './data')
  let accessKeyId = env.COFFER_ROOT_ACCESS_KEY || undefined
  let secretAccessKey = env.COFFER_ROOT_SECRET_KEY || undefined
  const credFile = join(dataDir, 'credentials.json')
  if ((!accessKeyId || !secretAccessKey) && existsSync(credFile)) {
    const c = JSON.parse(readFileSync(credFile, 'utf8')) as { accessKeyId: string; secretAccessKey: string }
    accessKeyId = c.accessKeyId
    secretAccessKey = c.secretAccessKey
  }
  if (!accessKeyId || !secretAccessKey)
    return (
      io.err(
        'coffer admin: no root credentials: set COFFER_ROOT_ACCESS_KEY and COFFER_ROOT_SECRET_KEY, or pass --data DIR',
      ),
      2
    )
  const caFile = opts.ca ?? (existsSync(join(dataDir, 'tls', 'ca.pem')) ? join(dataDir, 'tls', 'ca.pem') : undefined)
  const target: AdminTarget = {
    endpoint: opts.endpoint ?? env.COFFER_ENDPOINT ?? 'https://127.0.0.1:9000',
    ca: caFile ? readFileSync(caFile, 'utf8') : undefined,
    region: opts.region ?? env.COFFER_REGION ?? 'us-east-1',
    accessKeyId,
    secretAccessKey,
  }
  try {
    const res = await adminCall(target, call.method, call.path, call.payload)
    const body = res.body
    if (res.status >= 400)
      return (io.err(`coffer admin: ${res.status}: ${typeof body === 'string' ? body : JSON.stringify(body)}`), 1)
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
