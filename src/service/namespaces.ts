/**
 * Operator use cases for tenants: namespaces (D@RE on or off, fixed at creation) and their users
 * (access keys). Deleting a namespace destroys its key (crypto-erase). Joins meta and the keyring.
 */
import * as meta from '../meta/index.ts'
import {
  BUILTIN_POLICY_NAMES,
  isBuiltinPolicyName,
  PolicyError,
  parsePolicy,
  userArn,
  accountArn,
} from '../policy/index.ts'
import { toBase64 } from '../util/bytes.ts'
import { canonicalId } from './canonical-id.ts'
import type { ServiceContext } from './context.ts'
import { ServiceError } from './errors.ts'
import { deleteKey } from './delete-object.ts'
import { forgetNamespace, forgetUser } from './identities.ts'
import {
  followMasterKey,
  masterKeyPin,
  newNamespaceKey,
  staleMasterKey,
  stagedKeySetting,
  withKeyLock,
} from './keyring.ts'
import { sealSecret } from './user-secrets.ts'
import {
  type PublicAccessBlock,
  namespacePublicAccessBlock,
  parsePublicAccessBlock,
  publicAccessBlockText,
} from './public-access.ts'

export interface NamespaceInfo {
  name: string
  encryption: boolean
  /** Version of the namespace key (0 when encryption is off); grows with each rotation. */
  keyVersion: number
  createdAt: string
}

export interface UserInfo {
  accessKeyId: string
  name: string
  namespace: string
  isRoot: boolean
  createdAt: string
  /** The principal bucket policies name (`arn:aws:iam::<namespace>:user/<name>`; root: `…:root`). */
  arn: string
  /** The canonical id of the user's namespace (the owner ACLs and CanonicalUser principals name). */
  canonicalId: string
  /** The built-in policy attached, if any. */
  builtinPolicy: string | null
  /** Whether the user has a policy document of its own. */
  hasPolicy: boolean
}

/** A user's policies as the admin API shows them. */
export interface UserPolicies {
  accessKeyId: string
  builtinPolicy: string | null
  policy: unknown
}

/** Like bucket names, so a namespace can appear in URLs and logs unquoted. */
const NAME = /^[a-z0-9][a-z0-9-]{0,62}$/
const USER_NAME = /^[A-Za-z0-9._@+=-]{1,64}$/
/** Objects deleted per page when a namespace is force-deleted. */
const DELETE_PAGE = 500

const info = (n: meta.NamespaceRow): NamespaceInfo => ({
  name: n.name,
  encryption: n.encrypted,
  keyVersion: n.keyVersion,
  createdAt: n.createdAt.toISOString(),
})

/** Creates `name` with a fresh namespace key when `encrypted`; 'exists' if it was already there. */
export async function ensureNamespace(
  ctx: ServiceContext,
  name: string,
  encrypted: boolean,
): Promise<'created' | 'exists'> {
  if (await meta.getNamespace(ctx.db, name)) return 'exists'
  if (!encrypted) {
    const r = await meta.createNamespace(ctx.db, { name, encrypted, wrappedKey: null, keyVersion: 0 })
    return r === 'created' ? 'created' : 'exists'
  }
  // The key is wrapped by the master key: stored only while the metadata still names that key.
  return sealedUnderCurrentKey(ctx, async () => {
    const key = await newNamespaceKey(ctx, name)
    return meta.createNamespace(ctx.db, { name, encrypted, ...key }, await masterKeyPin(ctx))
  })
}

/** Attempts at a sealed write when rotations through other gateways keep moving the key. */
const SEAL_ATTEMPTS = 3

/**
 * Runs a write that seals or wraps under the master key, pinned to its fingerprint (meta's
 * SettingPin), under this process's key lock: first this gateway follows a rotation made through
 * another one (or refuses, 503, while its key file is old); a rotation committed between the
 * sealing and the insert refuses the insert, and it is sealed again under the new key.
 */
async function sealedUnderCurrentKey<T extends string>(
  ctx: ServiceContext,
  write: () => Promise<T | 'stale-pin'>,
): Promise<T> {
  return withKeyLock(ctx, async () => {
    for (let attempt = 1; attempt <= SEAL_ATTEMPTS; attempt++) {
      await followMasterKey(ctx)
      const r = await write()
      if (r !== 'stale-pin') return r as T
    }
    throw staleMasterKey(ctx)
  })
}

export async function createNamespace(ctx: ServiceContext, name: string, encrypted: boolean): Promise<NamespaceInfo> {
  if (!NAME.test(name))
    throw new ServiceError(
      'InvalidArgument',
      'A namespace name is 1-63 characters of a-z, 0-9 and -, starting with a letter or digit.',
    )
  if ((await ensureNamespace(ctx, name, encrypted)) === 'exists')
    throw new ServiceError('NamespaceAlreadyExists', `Namespace ${name} already exists.`)
  return info((await meta.getNamespace(ctx.db, name))!)
}

export async function listNamespaces(ctx: ServiceContext): Promise<NamespaceInfo[]> {
  return (await meta.listNamespaces(ctx.db)).map(info)
}

/**
 * Deletes a namespace, its users and its key. Refused while it holds buckets unless `force`,
 * which first deletes every object, upload and bucket of it (their data goes to GC).
 */
export async function deleteNamespace(
  ctx: ServiceContext,
  name: string,
  force = false,
): Promise<{ buckets: number; objects: number }> {
  if (name === meta.DEFAULT_NAMESPACE)
    throw new ServiceError('InvalidArgument', 'The default namespace holds the root user and cannot be deleted.')
  try {
    return await deleteNamespaceLocked(ctx, name, force)
  } finally {
    // Even after a failure part way: its users may be gone, and they must be refused at once.
    forgetNamespace(ctx, name)
  }
}

function deleteNamespaceLocked(
  ctx: ServiceContext,
  name: string,
  force: boolean,
): Promise<{ buckets: number; objects: number }> {
  return withKeyLock(ctx, async () => {
    if (!(await meta.getNamespace(ctx.db, name))) throw new ServiceError('NoSuchNamespace', `No namespace ${name}.`)
    let bucketCount = 0
    let objectCount = 0
    // Bounded: a client still writing into a bucket makes deleteBucket fail; retry a few times.
    for (let attempt = 0; attempt < 5; attempt++) {
      const buckets = await meta.listBuckets(ctx.db, name)
      if (buckets.length > 0 && !force) {
        throw new ServiceError(
          'NamespaceNotEmpty',
          `Namespace ${name} still has ${buckets.length} bucket(s): delete them first, or use --force to delete them with all their objects.`,
        )
      }
      for (const b of buckets) {
        objectCount += await deleteAllObjects(ctx, { bucket: b.name, bucketId: b.id })
        if ((await meta.deleteBucket(ctx.db, b.name, b.id)) === 'deleted') bucketCount++
      }
      const result = await meta.deleteNamespace(ctx.db, name, stagedKeySetting(name))
      if (result === 'deleted' || result === 'missing') {
        ctx.keys.cache.clear()
        return { buckets: bucketCount, objects: objectCount }
      }
    }
    throw new ServiceError(
      'NamespaceNotEmpty',
      `Namespace ${name} kept getting new buckets or objects while being deleted; retry.`,
    )
  })
}

/** The operator's deletion: the service writes for no user, but still into that bucket only (by id). */
async function deleteAllObjects(ctx: ServiceContext, writer: meta.Writer): Promise<number> {
  let count = 0
  for (let page = 0; page < 1_000_000; page++) {
    const keys = await meta.objectKeysPage(ctx.db, writer.bucket, '', DELETE_PAGE)
    if (keys.length === 0) break
    for (const key of keys) if (await deleteKey(ctx, writer, key, 'namespace-deleted')) count++
  }
  return count
}

const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789'

/** Random credentials of AWS's shape: a 20-character access key id and a 40-character secret. */
function newCredentials(): { accessKeyId: string; secretAccessKey: string } {
  const id = crypto.getRandomValues(new Uint8Array(20))
  // The id is an identifier, not a secret: the small modulo bias of b % 36 does not matter.
  const accessKeyId = `CF${Array.from(id.subarray(2), (b) => ALNUM[b % ALNUM.length]).join('')}`
  const secretAccessKey = toBase64(crypto.getRandomValues(new Uint8Array(30)))
  return { accessKeyId, secretAccessKey }
}

export async function createUser(
  ctx: ServiceContext,
  name: string,
  namespace: string,
): Promise<UserInfo & { secretAccessKey: string }> {
  if (!USER_NAME.test(name))
    throw new ServiceError('InvalidArgument', 'A user name is 1-64 characters of letters, digits and ._@+=-')
  if (!(await meta.getNamespace(ctx.db, namespace)))
    throw new ServiceError('NoSuchNamespace', `No namespace ${namespace}: create it first.`)
  // Policies name users by ARN, i.e. by name within their namespace: two users may not share one.
  if ((await meta.listUsers(ctx.db, namespace)).some((u) => u.name === name))
    throw new ServiceError('InvalidArgument', `Namespace ${namespace} already has a user named ${name}.`)
  const creds = newCredentials()
  const createdAt = new Date()
  // Under the key lock: a master-key rotation must not commit between the sealing and the insert;
  // one through another gateway is caught by the fingerprint pin in the insert itself.
  const created = await sealedUnderCurrentKey(ctx, async () => {
    const wrappedSecret = await sealSecret(ctx, creds.accessKeyId, creds.secretAccessKey)
    return meta.createUser(
      ctx.db,
      { accessKeyId: creds.accessKeyId, wrappedSecret, name, namespace, createdAt },
      await masterKeyPin(ctx),
    )
  })
  if (created !== 'created') throw new Error('access key id collision; retry')
  return {
    ...creds,
    name,
    namespace,
    isRoot: false,
    createdAt: createdAt.toISOString(),
    arn: userArn(namespace, name),
    canonicalId: canonicalId(ctx, namespace),
    builtinPolicy: null,
    hasPolicy: false,
  }
}

const userInfo = (ctx: ServiceContext, u: meta.UserRow): UserInfo => ({
  accessKeyId: u.accessKeyId,
  name: u.name,
  namespace: u.namespace,
  isRoot: u.isRoot,
  createdAt: u.createdAt.toISOString(),
  arn: u.isRoot ? accountArn(u.namespace) : userArn(u.namespace, u.name),
  canonicalId: canonicalId(ctx, u.namespace),
  builtinPolicy: u.builtinPolicy,
  hasPolicy: u.policy !== null,
})

/** Users without their secrets. */
export async function listUsers(ctx: ServiceContext, namespace?: string): Promise<UserInfo[]> {
  return (await meta.listUsers(ctx.db, namespace)).map((u) => userInfo(ctx, u))
}

async function policyUser(ctx: ServiceContext, accessKeyId: string): Promise<meta.UserRow> {
  const user = await meta.getUser(ctx.db, accessKeyId)
  if (!user) throw new ServiceError('NoSuchUser', `No user with access key ${accessKeyId}.`)
  if (user.isRoot)
    throw new ServiceError(
      'InvalidArgument',
      'The root user has every right in every bucket of its namespace; it takes no policy.',
    )
  return user
}

const policiesOf = (u: meta.UserRow): UserPolicies => ({
  accessKeyId: u.accessKeyId,
  builtinPolicy: u.builtinPolicy,
  policy: u.policy === null ? null : JSON.parse(u.policy),
})

/**
 * Attaches a built-in policy by name and/or sets the user's own policy document (validated as
 * AWS validates a user policy: MalformedPolicy with the reason); null removes that one (the
 * console sets both in one step, so a refused document never leaves the user without either).
 * Takes effect on this gateway at once, on others sharing the metadata within the user cache's TTL.
 */
export async function setUserPolicy(
  ctx: ServiceContext,
  accessKeyId: string,
  p: { builtin?: string | null; document?: string | null },
): Promise<UserPolicies> {
  await policyUser(ctx, accessKeyId)
  if (typeof p.builtin === 'string' && !isBuiltinPolicyName(p.builtin))
    throw new ServiceError(
      'InvalidArgument',
      `No built-in policy ${p.builtin}: there are ${BUILTIN_POLICY_NAMES.join(', ')}.`,
    )
  if (p.builtin === undefined && p.document === undefined)
    throw new ServiceError('InvalidArgument', 'Give a policy document or the name of a built-in policy.')
  if (typeof p.document === 'string') {
    try {
      parsePolicy(p.document, { kind: 'identity' })
    } catch (e) {
      if (e instanceof PolicyError) throw new ServiceError('MalformedPolicy', e.message)
      throw e
    }
  }
  try {
    await meta.setUserPolicies(ctx.db, accessKeyId, { builtinPolicy: p.builtin, policy: p.document })
  } finally {
    forgetUser(ctx, accessKeyId)
  }
  return policiesOf(await policyUser(ctx, accessKeyId))
}

export async function getUserPolicy(ctx: ServiceContext, accessKeyId: string): Promise<UserPolicies> {
  return policiesOf(await policyUser(ctx, accessKeyId))
}

/** Removes both the built-in policy and the user's own: the user has no rights left. */
export async function deleteUserPolicy(ctx: ServiceContext, accessKeyId: string): Promise<UserPolicies> {
  await policyUser(ctx, accessKeyId)
  try {
    await meta.setUserPolicies(ctx.db, accessKeyId, { builtinPolicy: null, policy: null })
  } finally {
    forgetUser(ctx, accessKeyId)
  }
  return policiesOf(await policyUser(ctx, accessKeyId))
}

/** The namespace-wide Block Public Access (all off when none is set). */
export async function getNamespacePublicAccessBlock(ctx: ServiceContext, name: string): Promise<PublicAccessBlock> {
  if (!(await meta.getNamespace(ctx.db, name))) throw new ServiceError('NoSuchNamespace', `No namespace ${name}.`)
  return namespacePublicAccessBlock(ctx, name)
}

export async function setNamespacePublicAccessBlock(
  ctx: ServiceContext,
  name: string,
  block: Partial<PublicAccessBlock>,
): Promise<PublicAccessBlock> {
  const current = await getNamespacePublicAccessBlock(ctx, name)
  const next = parsePublicAccessBlock(publicAccessBlockText({ ...current, ...block }))!
  await meta.setNamespacePublicAccessBlock(ctx.db, name, publicAccessBlockText(next))
  return next
}

export async function deleteUser(ctx: ServiceContext, accessKeyId: string): Promise<void> {
  try {
    await deleteUserRow(ctx, accessKeyId)
  } finally {
    // The user cache would otherwise accept the deleted key here for a few seconds.
    forgetUser(ctx, accessKeyId)
  }
}

async function deleteUserRow(ctx: ServiceContext, accessKeyId: string): Promise<void> {
  const user = await meta.getUser(ctx.db, accessKeyId)
  if (!user) throw new ServiceError('NoSuchUser', `No user with access key ${accessKeyId}.`)
  if (user.isRoot)
    throw new ServiceError(
      'InvalidArgument',
      'The root user comes from COFFER_ROOT_ACCESS_KEY / credentials.json and cannot be deleted here.',
    )
  await meta.deleteUser(ctx.db, accessKeyId)
}
