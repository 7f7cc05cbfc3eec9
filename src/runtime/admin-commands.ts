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
  /** A file whose text goes into `payload[field]` (read by admin-cli.ts: this table does no I/O). */
  payloadFile?: { path: string; field: string }
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
const BUILTIN_POLICIES = 'readonly, readwrite, writeonly, admin'

/** A user's policies in words. */
const policyLines = (b: Record<string, unknown>): string =>
  [
    `Policies of ${String(b.accessKeyId)}:`,
    `  built-in: ${b.builtinPolicy ? String(b.builtinPolicy) : 'none'}`,
    `  own policy: ${b.policy ? JSON.stringify(b.policy, null, 2).replace(/\n/g, '\n  ') : 'none'}`,
    ...(b.builtinPolicy || b.policy ? [] : ['  This user has no rights: it is refused every S3 request.']),
  ].join('\n')

const UNITS: Record<string, number> = { '': 1, K: 2 ** 10, M: 2 ** 20, G: 2 ** 30, T: 2 ** 40, P: 2 ** 50 }

/** `4T`, `500G`, `1.5T`, `1048576` → bytes (binary units); null when not a size. */
export function parseCapacity(text: string): number | null {
  const m = /^(\d+(?:\.\d+)?)\s*([KMGTP]?)(?:i?B)?$/i.exec(text.trim())
  if (!m) return null
  const bytes = Math.round(Number(m[1]) * UNITS[m[2]!.toUpperCase()]!)
  return Number.isSafeInteger(bytes) ? bytes : null
}

const size = (n: number): string => {
  for (const u of ['P', 'T', 'G', 'M', 'K']) if (n >= UNITS[u]!) return `${+(n / UNITS[u]!).toFixed(2)}${u}`
  return String(n)
}

/** The admin API's layout answer in words. */
const layoutText = (b: Record<string, unknown>): string => {
  const nodes = b.nodes as {
    id: string
    address: string
    capacity: number
    zone: string
    rack?: string
    state: string
  }[]
  return [
    `Cluster layout version ${String(b.version)}: ${nodes.filter((n) => n.state === 'active').length} active node(s) in ${(b.zones as string[]).length} zone(s)`,
    ...nodes.map(
      (n) =>
        `  ${n.id}\t${n.state}\tzone ${n.zone}${n.rack ? `\track ${n.rack}` : ''}\tcapacity ${size(n.capacity)}${n.address !== n.id ? `\tat ${n.address}` : ''}`,
    ),
    b.zoneLossSafe
      ? `Every new write survives the loss of any one zone (at most ${String(b.worstZoneShare)} shard(s) of a write per zone).`
      : `Warning: a write must put ${String(b.worstZoneShare)} shards in one zone, more than the parity count: losing that zone loses data. Add zones or nodes.`,
  ].join('\n')
}

/** The rebalance mover's progress in a few lines (`coffer admin layout status`). */
const rebalanceText = (b: Record<string, unknown>): string => {
  type Pass = Record<string, number | string>
  const pass = b.currentPass as Pass | undefined
  const last = b.lastPass as Pass | undefined
  const t = b.totals as Pass
  const line = (p: Pass) =>
    `${String(p.moved)} of ${String(p.toMove)} shard(s) moved (${size(Number(p.bytes))} of ${size(Number(p.toMoveBytes))}), ${String(p.rebuilt)} rebuilt, ${String(p.discarded)} discarded (object changed), ${String(p.deferred)} put off, ${String(p.errors)} error(s)`
  return [
    b.enabled ? `Rebalance mover: on, toward layout version ${String(b.layoutVersion)}` : 'Rebalance mover: off',
    pass
      ? `  running since ${new Date(Number(pass.startedAt)).toISOString()} (${String(pass.phase === 'count' ? 'counting' : 'moving')}, layout ${String(pass.layoutVersion)}): ${line(pass)}`
      : '  no pass running',
    ...(last
      ? [
          `  last pass (layout ${String(last.layoutVersion)}) ended ${new Date(Number(last.endedAt)).toISOString()}: ${line(last)}`,
        ]
      : []),
    `  in total: ${String(t.moved)} shard(s), ${size(Number(t.bytes))} moved over ${String(t.passes)} pass(es), ${String(t.errors)} error(s)`,
    ...(b.lastError ? [`  last error: ${String(b.lastError)}`] : []),
    ...(b.stateProblem ? [`  saved progress not used: ${String(b.stateProblem)}`] : []),
  ].join('\n')
}

const SWITCHES = ['BlockPublicAcls', 'IgnorePublicAcls', 'BlockPublicPolicy', 'RestrictPublicBuckets']

/** A KMS key in one line: id, state, alias, ARN (and when its material goes). */
const kmsKeyLine = (k: Record<string, unknown>): string =>
  [
    String(k.keyId),
    String(k.state),
    k.alias ? String(k.alias) : '-',
    String(k.arn),
    ...(k.deletionDate ? [`deletion ${String(k.deletionDate)}`] : []),
  ].join('\t')

const KMS_KEY_NS = { ...NAMESPACE, help: 'the namespace of KEY when KEY is an alias' } as const
/** The verbs that act on one key: the key (id, ARN, or alias with --namespace) in the body. */
const kmsKeyVerb = (action: string, summary: string) =>
  verb({
    args: ['KEY'],
    summary,
    flags: { namespace: KMS_KEY_NS },
    request: ([key], v) => ({
      method: 'POST',
      path: `/kms/key/${action}`,
      payload: { key, ...(v.namespace !== undefined ? { namespace: v.namespace } : {}) },
      format: kmsKeyLine,
    }),
  })

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
      'public-access': verb({
        args: ['NAME'],
        summary: "the namespace's Block Public Access (on for new namespaces); --set changes all four switches",
        flags: {
          set: { type: 'string', value: 'on|off', help: 'block public policies and ACLs (on) or allow them (off)' },
        },
        request: ([name], v) => {
          if (v.set !== undefined && v.set !== 'on' && v.set !== 'off') return `--set takes on or off, got "${v.set}"`
          const format = (b: Record<string, unknown>) =>
            SWITCHES.map((k) => `${k}\t${b[k] === true ? 'on' : 'off'}`).join('\n')
          const path = `/namespaces/${enc(name!)}/public-access-block`
          if (v.set === undefined) return { method: 'GET', path, format }
          return { method: 'PUT', path, format, payload: Object.fromEntries(SWITCHES.map((k) => [k, v.set === 'on'])) }
        },
      }),
    },
  },
  user: {
    verbs: {
      create: verb({
        args: ['NAME'],
        summary: 'prints the new access key and secret (once)',
        flags: {
          namespace: { ...NAMESPACE, required: true, help: 'the namespace the user belongs to' },
          policy: { type: 'string', value: 'NAME', help: `attach a built-in policy (${BUILTIN_POLICIES})` },
        },
        request: ([name], v) => ({
          method: 'POST',
          path: '/users',
          payload: { name, namespace: v.namespace, ...(v.policy !== undefined ? { policy: v.policy } : {}) },
          format: (b) =>
            [
              `User ${String(b.name)} in namespace ${String(b.namespace)}`,
              `  Access key: ${String(b.accessKeyId)}`,
              `  Secret key: ${String(b.secretAccessKey)}`,
              `  ARN: ${String(b.arn)}`,
              `  Canonical ID: ${String(b.canonicalId)}`,
              'The secret is shown only now: store it safely.',
              b.builtinPolicy
                ? `Policy: the built-in ${String(b.builtinPolicy)}.`
                : `This user has no rights until it is given a policy: coffer admin user policy set ${String(b.accessKeyId)} FILE, or --builtin NAME (${BUILTIN_POLICIES}).`,
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
            (
              b.users as {
                accessKeyId: string
                name: string
                namespace: string
                isRoot: boolean
                arn: string
                builtinPolicy: string | null
                hasPolicy: boolean
              }[]
            )
              .map((u) => {
                const rights = u.isRoot
                  ? 'root'
                  : [u.builtinPolicy, u.hasPolicy ? 'own policy' : undefined].filter(Boolean).join('+') || 'no rights'
                return `${u.accessKeyId}\t${u.name}\t${u.namespace}\t${rights}\t${u.arn}`
              })
              .join('\n'),
        }),
      }),
      delete: verb({
        args: ['ACCESSKEY'],
        summary: 'removes a user and its access key',
        flags: {},
        request: ([key]) => ({ method: 'DELETE', path: `/users/${enc(key!)}` }),
      }),
      policy: verb({
        args: ['set|get|delete', 'ACCESSKEY', '[FILE]'],
        summary: `a user's policy: set FILE (an IAM policy document) and/or --builtin NAME (${BUILTIN_POLICIES}); delete leaves no rights`,
        flags: { builtin: { type: 'string', value: 'NAME', help: `a built-in policy (${BUILTIN_POLICIES})` } },
        request: ([action, key, file], v) => {
          const path = `/users/${enc(key!)}/policy`
          if (action === 'get' || action === 'delete') {
            if (file !== undefined || v.builtin !== undefined) return `policy ${action} takes only ACCESSKEY`
            return { method: action === 'get' ? 'GET' : 'DELETE', path, format: policyLines }
          }
          if (action !== 'set') return `policy takes set, get or delete, got "${action}"`
          if (file === undefined && v.builtin === undefined) return 'policy set needs FILE or --builtin NAME'
          return {
            method: 'PUT',
            path,
            payload: v.builtin !== undefined ? { builtin: v.builtin } : {},
            payloadFile: file !== undefined ? { path: file, field: 'document' } : undefined,
            format: policyLines,
          }
        },
      }),
    },
  },
  bucket: {
    verbs: {
      stats: verb({
        args: ['NAME'],
        summary: 'counts and bytes of current and non-current versions, and delete markers',
        flags: {},
        request: ([name]) => ({
          method: 'GET',
          path: `/buckets/${enc(name!)}/stats`,
          format: (b) => {
            const s = b as {
              bucket: string
              namespace: string
              versioning: string
              objectLock: boolean
              current: { count: number; bytes: number }
              noncurrent: { count: number; bytes: number }
              deleteMarkers: number
            }
            return [
              `${s.bucket}\tnamespace ${s.namespace}\tversioning ${s.versioning}${s.objectLock ? '\tobject lock' : ''}`,
              `  current versions:     ${s.current.count}\t${s.current.bytes} bytes`,
              `  non-current versions: ${s.noncurrent.count}\t${s.noncurrent.bytes} bytes`,
              `  delete markers:       ${s.deleteMarkers}`,
            ].join('\n')
          },
        }),
      }),
    },
  },
  kms: {
    verbs: {
      'create-key': verb({
        summary: 'a new SSE-KMS key in a namespace (key material managed by Coffer, wrapped by the master key)',
        flags: {
          namespace: { ...NAMESPACE, required: true, help: 'the namespace (the account of the key ARN)' },
          alias: { type: 'string', value: 'NAME', help: 'an alias (alias/NAME) clients may name the key by' },
        },
        request: (_, v) => ({
          method: 'POST',
          path: '/kms/keys',
          payload: {
            namespace: v.namespace,
            ...(v.alias !== undefined ? { alias: v.alias } : {}),
          },
          format: kmsKeyLine,
        }),
      }),
      list: verb({
        summary: 'KMS keys with their state, alias and ARN',
        flags: { namespace: { ...NAMESPACE, help: 'only the keys of this namespace' } },
        request: (_, v) => ({
          method: 'GET',
          path: `/kms/keys${v.namespace !== undefined ? `?namespace=${enc(v.namespace)}` : ''}`,
          format: (b) => (b.keys as Record<string, unknown>[]).map(kmsKeyLine).join('\n'),
        }),
      }),
      describe: verb({
        args: ['KEY'],
        summary: 'one key (id, ARN, or alias with --namespace)',
        flags: { namespace: KMS_KEY_NS },
        request: ([key], v) => ({
          method: 'GET',
          path: `/kms/key?key=${enc(key!)}${v.namespace !== undefined ? `&namespace=${enc(v.namespace)}` : ''}`,
          format: kmsKeyLine,
        }),
      }),
      disable: kmsKeyVerb(
        'disable',
        'reads and writes under the key are refused (KMS.DisabledException) until enabled',
      ),
      enable: kmsKeyVerb('enable', 'the key works again'),
      'schedule-deletion': verb({
        args: ['KEY'],
        summary:
          'after --days (7-30, default 30) the key material is destroyed: every object under it becomes unreadable (crypto-erase)',
        flags: {
          namespace: KMS_KEY_NS,
          days: { type: 'string', value: 'N', help: 'the waiting period in days (7-30)' },
        },
        request: ([key], v) => {
          if (v.days !== undefined && !/^\d{1,2}$/.test(v.days)) return `--days takes a whole number, got "${v.days}"`
          return {
            method: 'POST',
            path: '/kms/key/schedule-deletion',
            payload: {
              key,
              ...(v.namespace !== undefined ? { namespace: v.namespace } : {}),
              ...(v.days !== undefined ? { days: Number(v.days) } : {}),
            },
            format: kmsKeyLine,
          }
        },
      }),
      'cancel-deletion': kmsKeyVerb('cancel-deletion', 'stops a scheduled deletion; the key comes back disabled'),
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
  node: {
    default: 'list',
    verbs: {
      list: verb({
        summary: 'the storage nodes of the cluster layout: state, zone, rack, capacity',
        flags: {},
        request: () => ({ method: 'GET', path: '/layout', format: layoutText }),
      }),
      add: verb({
        args: ['URL'],
        summary: 'a storage node (new writes use it at once), or change a known one’s zone, rack or capacity',
        flags: {
          zone: { type: 'string', value: 'NAME', shownDefault: 'the node alone', help: 'its failure domain' },
          rack: { type: 'string', value: 'NAME', help: 'a failure domain inside the zone' },
          capacity: {
            type: 'string',
            value: 'BYTES',
            shownDefault: '1T',
            help: 'its weight for new data, e.g. 4T, 500G (binary units)',
          },
        },
        request: ([url], v) => {
          const capacity = v.capacity === undefined ? undefined : parseCapacity(v.capacity)
          if (capacity === null) return `--capacity takes bytes like 4T, 500G or 1048576, got "${v.capacity}"`
          return {
            method: 'POST',
            path: '/nodes',
            payload: { address: url, zone: v.zone, rack: v.rack, capacity },
            format: layoutText,
          }
        },
      }),
      drain: verb({
        args: ['URL'],
        summary: 'no new shards go to the node (it is still read); remove it once it holds none',
        flags: {},
        request: ([id]) => ({ method: 'POST', path: '/nodes/drain', payload: { id }, format: layoutText }),
      }),
      undrain: verb({
        args: ['URL'],
        summary: 'a draining node takes new shards again',
        flags: {},
        request: ([id]) => ({ method: 'POST', path: '/nodes/activate', payload: { id }, format: layoutText }),
      }),
      remove: verb({
        args: ['URL'],
        summary: 'a drained node that holds no shard leaves the cluster for good (refused otherwise)',
        flags: {},
        request: ([id]) => ({ method: 'POST', path: '/nodes/remove', payload: { id }, format: layoutText }),
      }),
    },
  },
  layout: {
    default: 'show',
    verbs: {
      show: verb({
        summary: 'the cluster layout in use: version, nodes, zones and whether a zone loss is survived',
        flags: {},
        request: () => ({ method: 'GET', path: '/layout', format: layoutText }),
      }),
      status: verb({
        summary: 'rebalance mover: shards to move off drained nodes and onto new ones, moved, bytes, errors, last pass',
        flags: {},
        request: () => ({ method: 'GET', path: '/rebalance', format: rebalanceText }),
      }),
    },
  },
  lifecycle: {
    default: 'status',
    verbs: {
      status: verb({
        summary: 'lifecycle worker: rules, pass running, objects examined and expired, bytes freed, last run',
        flags: {},
        request: () => ({ method: 'GET', path: '/lifecycle' }),
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
