/**
 * The `coffer admin` command table: group → verb → flags, help and the admin API request it makes.
 * Pure (no I/O); admin-cli.ts parses with it, signs and sends; help.ts renders it.
 */
import type { CommandSpec, FlagTable, FlagValues } from './args.ts'

/** Flags every admin verb takes, before or after the verb: where the server is, who signs. */
export const ADMIN_FLAGS = {
  endpoint: {
    type: 'string',
    value: 'URL',
    env: 'COFFER_ENDPOINT',
    default: 'https://127.0.0.1:9000',
    help: 'the gateway to administer',
  },
  ca: {
    type: 'string',
    value: 'FILE',
    shownDefault: '<data>/tls/ca.pem if present',
    help: 'CA certificate (PEM) to trust for the endpoint',
  },
  data: {
    type: 'string',
    value: 'DIR',
    env: 'COFFER_DATA',
    default: './data',
    help: "the gateway's data directory: root credentials (credentials.json) and tls/ca.pem come from there",
  },
  region: {
    type: 'string',
    value: 'NAME',
    env: 'COFFER_REGION',
    default: 'us-east-1',
    help: 'the region the gateway serves (requests are signed for it)',
  },
  json: { type: 'boolean', help: 'print the API answer as JSON (for scripts)' },
} as const satisfies FlagTable

export interface AdminCall {
  method: string
  path: string
  payload?: unknown
  /** Human-readable output (without --json); JSON otherwise. */
  format?: (body: Record<string, unknown>) => string
}

/** A verb: its own flags and positionals, and the request (or a problem) from the parsed values. */
export interface AdminVerb<T extends FlagTable = FlagTable> {
  args?: readonly string[]
  summary: string
  flags: T
  request(args: string[], v: FlagValues<T>): AdminCall | string
}

/** Keeps each verb's flag types for its request function inside a table of mixed verbs. */
const verb = <T extends FlagTable>(v: AdminVerb<T>): AdminVerb => v as unknown as AdminVerb

const enc = encodeURIComponent
const NAMESPACE = { type: 'string', value: 'NS', help: 'the namespace' } as const

/** group → verb; a group's `default` verb runs when none is given (`coffer admin heal`). */
export const ADMIN_GROUPS: Record<string, { default?: string; verbs: Record<string, AdminVerb> }> = {
  heal: {
    default: 'status',
    verbs: {
      status: verb({
        summary: 'stores up/down, heal backlog, durability counters',
        flags: {},
        request: () => ({ method: 'GET', path: '/heal' }),
      }),
      run: verb({
        summary: 'scrub every object now, heal what needs it, collect garbage',
        flags: {},
        request: () => ({ method: 'POST', path: '/heal' }),
      }),
    },
  },
  namespace: {
    verbs: {
      create: verb({
        args: ['NAME'],
        summary: 'a tenant; D@RE (AES-256) on by default, fixed for life',
        flags: {
          encryption: { type: 'string', value: 'on|off', default: 'on', help: 'encryption at rest (D@RE)' },
        },
        request: ([name], v) =>
          v.encryption !== 'on' && v.encryption !== 'off'
            ? `--encryption takes on or off, got "${v.encryption}"`
            : { method: 'POST', path: '/namespaces', payload: { name, encryption: v.encryption === 'on' } },
      }),
      list: verb({
        summary: 'every namespace, with its encryption and key version',
        flags: {},
        request: () => ({
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
      }),
      delete: verb({
        args: ['NAME'],
        summary: 'destroys its key (crypto-erase); refused while it has buckets',
        flags: { force: { type: 'boolean', help: 'delete its buckets and their objects first' } },
        request: ([name], v) => ({
          method: 'DELETE',
          path: `/namespaces/${enc(name!)}${v.force ? '?force=true' : ''}`,
        }),
      }),
    },
  },
  user: {
    verbs: {
      create: verb({
        args: ['NAME'],
        summary: 'prints the new access key and secret (once)',
        flags: { namespace: { ...NAMESPACE, required: true, help: 'the namespace the user belongs to' } },
        request: ([name], v) => ({
          method: 'POST',
          path: '/users',
          payload: { name, namespace: v.namespace },
          format: (b) =>
            [
              `User ${String(b.name)} in namespace ${String(b.namespace)}`,
              `  Access key: ${String(b.accessKeyId)}`,
              `  Secret key: ${String(b.secretAccessKey)}`,
              'The secret is shown only now: store it safely.',
            ].join('\n'),
        }),
      }),
      list: verb({
        summary: 'users with their access keys',
        flags: { namespace: { ...NAMESPACE, help: 'only the users of this namespace' } },
        request: (_, v) => ({
          method: 'GET',
          path: `/users${v.namespace !== undefined ? `?namespace=${enc(v.namespace)}` : ''}`,
          format: (b) =>
            (b.users as { accessKeyId: string; name: string; namespace: string; isRoot: boolean }[])
              .map((u) => `${u.accessKeyId}\t${u.name}\t${u.namespace}${u.isRoot ? '\troot' : ''}`)
              .join('\n'),
        }),
      }),
      delete: verb({
        args: ['ACCESSKEY'],
        summary: 'removes a user and its access key',
        flags: {},
        request: ([key]) => ({ method: 'DELETE', path: `/users/${enc(key!)}` }),
      }),
    },
  },
  key: {
    verbs: {
      rotate: verb({
        summary:
          'new master key (--master: re-wraps namespace keys, rewrites the key file) or namespace key (--namespace NS: re-wraps its object keys); give one',
        flags: {
          master: { type: 'boolean', help: 'rotate the master key' },
          namespace: { ...NAMESPACE, help: "rotate this namespace's key" },
        },
        request: (_, v) =>
          v.master === (v.namespace !== undefined)
            ? 'give one of --master and --namespace NS'
            : {
                method: 'POST',
                path: '/keys/rotate',
                payload: v.master ? { master: true } : { namespace: v.namespace },
              },
      }),
    },
  },
}

/** The command spec of one verb, for the parser and help: its own flags after the common ones. */
export function adminVerbSpec(group: string, name: string, v: AdminVerb): CommandSpec {
  return {
    name: `coffer admin ${group} ${name}`,
    args: v.args,
    summary: v.summary,
    flags: { ...ADMIN_FLAGS, ...v.flags },
    notes: ADMIN_NOTES,
  }
}

export const ADMIN_NOTES = [
  'Root credentials: COFFER_ROOT_ACCESS_KEY and COFFER_ROOT_SECRET_KEY, else <data>/credentials.json.',
]

/** Every verb's spec, in table order. */
export const ADMIN_COMMANDS: readonly CommandSpec[] = Object.entries(ADMIN_GROUPS).flatMap(([g, { verbs }]) =>
  Object.entries(verbs).map(([n, v]) => adminVerbSpec(g, n, v)),
)
