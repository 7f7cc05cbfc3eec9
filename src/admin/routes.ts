/**
 * The operator API under /_coffer/admin/: JSON over HTTPS, SigV4-signed by the root user.
 * Durability (heal), namespaces, users, keys and bucket statistics. Uses the service only.
 */
import { Hono, type Context } from 'hono'
import {
  activateNode,
  type Actor,
  addNode,
  drainNode,
  removeNode,
  showLayout,
  bucketStats,
  cancelKmsKeyDeletion,
  createKmsKey,
  createNamespace,
  describeKmsKey,
  disableKmsKey,
  enableKmsKey,
  listKmsKeys,
  scheduleKmsKeyDeletion,
  createUser,
  deleteNamespace,
  deleteUser,
  deleteUserPolicy,
  getNamespacePublicAccessBlock,
  getUserPolicy,
  health,
  lifecycleStatus,
  rebalanceStatus,
  isServiceError,
  listNamespaces,
  listUsers,
  maintain,
  rotateMasterKey,
  rotateNamespaceKey,
  type Service,
  setNamespacePublicAccessBlock,
  setUserPolicy,
  type ServiceErrorCode,
} from '../service/index.ts'
import { toHex, utf8 } from '../util/bytes.ts'
import type { Logger } from '../util/log.ts'

export interface AdminDeps {
  service: Service
  /** Verifies the request's signature; rejects with an error carrying `status` and `code`. */
  authenticate: (req: Request) => Promise<Actor>
  logger?: Logger
  /** The gateway's region: the region of the KMS keys it creates (their ARNs). */
  region?: string
}

interface HttpishError {
  status?: number
  code?: string
  message?: string
}

const STATUS: Partial<Record<ServiceErrorCode, 400 | 403 | 404 | 409 | 503>> = {
  InvalidArgument: 400,
  AccessDenied: 403,
  NoSuchBucket: 404,
  NoSuchNamespace: 404,
  NoSuchUser: 404,
  NamespaceAlreadyExists: 409,
  NamespaceNotEmpty: 409,
  NodeNotEmpty: 409,
  Unavailable: 503,
  MalformedPolicy: 400,
  'KMS.NotFoundException': 404,
  'KMS.KMSInvalidStateException': 409,
}

const fail = (status: 400, code: string, message: string) =>
  Object.assign(new Error(message), { adminStatus: status, code })

/** A small JSON object, checked against the SHA-256 the signature covered (x-amz-content-sha256). */
async function jsonBody(c: Context): Promise<Record<string, unknown>> {
  const text = await c.req.text()
  const declared = c.req.header('x-amz-content-sha256')?.toLowerCase()
  if (declared && /^[0-9a-f]{64}$/.test(declared)) {
    const actual = toHex(new Uint8Array(await crypto.subtle.digest('SHA-256', utf8(text) as BufferSource)))
    if (actual !== declared)
      throw fail(400, 'XAmzContentSHA256Mismatch', 'The body does not match the signed x-amz-content-sha256.')
  }
  if (text.trim() === '') return {}
  try {
    const v: unknown = JSON.parse(text)
    if (v && typeof v === 'object' && !Array.isArray(v)) return v as Record<string, unknown>
  } catch {
    // fall through
  }
  throw fail(400, 'MalformedJSON', 'The body must be a JSON object.')
}

const str = (v: unknown, what: string): string => {
  if (typeof v === 'string' && v !== '') return v
  throw fail(400, 'InvalidArgument', `${what} is required (a string).`)
}

const nodeId = (body: Record<string, unknown>): string => str(body.id, 'id').replace(/\/+$/, '')

export function createAdminRoutes(deps: AdminDeps): Hono {
  const admin = new Hono()
  const svc = deps.service
  admin.use('*', async (c, next) => {
    let actor: Actor
    try {
      actor = await deps.authenticate(c.req.raw)
    } catch (e) {
      const err = e as HttpishError
      return c.json(
        { error: err.code ?? 'AccessDenied', message: err.message ?? 'Access Denied.' },
        (err.status ?? 403) as 403,
      )
    }
    if (!actor.isRoot)
      return c.json({ error: 'AccessDenied', message: 'The admin API is for the root user only.' }, 403)
    await next()
  })
  admin.onError((e, c) => {
    if (isServiceError(e)) return c.json({ error: e.code, message: e.message }, STATUS[e.code] ?? 400)
    const status = (e as { adminStatus?: 400 }).adminStatus
    if (status) return c.json({ error: (e as { code?: string }).code ?? 'InvalidArgument', message: e.message }, status)
    // Messages of crypto errors name namespaces and ids, never key material.
    deps.logger?.log('error', 'admin request failed', {
      path: c.req.path,
      error: e instanceof Error ? e.message : String(e),
    })
    return c.json({ error: 'InternalError', message: e instanceof Error ? e.message : String(e) }, 500)
  })

  admin.get('/heal', async (c) => c.json(await health(svc)))
  /** A full pass now: scrub every object, heal what needs it, collect garbage; returns the result. */
  admin.post('/heal', async (c) => {
    await maintain(svc)
    return c.json(await health(svc))
  })

  /** The lifecycle worker's progress: rules, the pass running, the last pass, totals. */
  admin.get('/lifecycle', async (c) => c.json(await lifecycleStatus(svc)))

  admin.get('/namespaces', async (c) => c.json({ namespaces: await listNamespaces(svc) }))
  admin.post('/namespaces', async (c) => {
    const body = await jsonBody(c)
    const encryption = body.encryption === undefined ? true : body.encryption === true
    return c.json(await createNamespace(svc, str(body.name, 'name'), encryption), 201)
  })
  admin.delete('/namespaces/:name', async (c) => {
    const force = c.req.query('force') === 'true'
    const name = c.req.param('name')
    return c.json({ deleted: name, ...(await deleteNamespace(svc, name, force)) })
  })

  admin.get('/users', async (c) => c.json({ users: await listUsers(svc, c.req.query('namespace') || undefined) }))
  admin.post('/users', async (c) => {
    const body = await jsonBody(c)
    const user = await createUser(svc, str(body.name, 'name'), str(body.namespace, 'namespace'))
    if (body.policy === undefined) return c.json(user, 201)
    // A built-in policy given at creation: the user is usable at once.
    const attached = await setUserPolicy(svc, user.accessKeyId, { builtin: str(body.policy, 'policy') })
    return c.json({ ...user, builtinPolicy: attached.builtinPolicy }, 201)
  })
  admin.get('/users/:accessKeyId/policy', async (c) => c.json(await getUserPolicy(svc, c.req.param('accessKeyId'))))
  /** { builtin?: name, document?: the policy (a JSON object, or its text) } */
  admin.put('/users/:accessKeyId/policy', async (c) => {
    const body = await jsonBody(c)
    const builtin = body.builtin === undefined ? undefined : str(body.builtin, 'builtin')
    const document =
      body.document === undefined
        ? undefined
        : typeof body.document === 'string'
          ? body.document
          : JSON.stringify(body.document)
    return c.json(await setUserPolicy(svc, c.req.param('accessKeyId'), { builtin, document }))
  })
  admin.delete('/users/:accessKeyId/policy', async (c) =>
    c.json(await deleteUserPolicy(svc, c.req.param('accessKeyId'))),
  )
  admin.get('/namespaces/:name/public-access-block', async (c) =>
    c.json(await getNamespacePublicAccessBlock(svc, c.req.param('name'))),
  )
  /** Any of the four switches as booleans; those left out keep their value. */
  admin.put('/namespaces/:name/public-access-block', async (c) => {
    const body = await jsonBody(c)
    const block: Record<string, boolean> = {}
    for (const k of ['BlockPublicAcls', 'IgnorePublicAcls', 'BlockPublicPolicy', 'RestrictPublicBuckets']) {
      if (body[k] === undefined) continue
      if (typeof body[k] !== 'boolean') throw fail(400, 'InvalidArgument', `${k} is true or false.`)
      block[k] = body[k]
    }
    return c.json(await setNamespacePublicAccessBlock(svc, c.req.param('name'), block))
  })
  admin.delete('/users/:accessKeyId', async (c) => {
    const accessKeyId = c.req.param('accessKeyId')
    await deleteUser(svc, accessKeyId)
    return c.json({ deleted: accessKeyId })
  })

  /** Counts and logical bytes of current and non-current versions, and delete markers. */
  admin.get('/buckets/:name/stats', async (c) => c.json(await bucketStats(svc, c.req.param('name'))))

  admin.post('/keys/rotate', async (c) => {
    const body = await jsonBody(c)
    if (body.master === true) return c.json({ rotated: 'master', ...(await rotateMasterKey(svc)) })
    return c.json({ rotated: 'namespace', ...(await rotateNamespaceKey(svc, str(body.namespace, 'namespace'))) })
  })

  /** The cluster layout (storage nodes); 400 on a gateway over local drives. */
  admin.get('/layout', (c) => c.json(showLayout(svc)))
  /** The rebalance mover's progress: shards to move, moved, bytes, errors, last pass. */
  admin.get('/rebalance', async (c) => c.json(await rebalanceStatus(svc)))
  /** { address, zone?, rack?, capacity? }: adds the node (its id is its address) or updates it. */
  admin.post('/nodes', async (c) => {
    const body = await jsonBody(c)
    const address = str(body.address, 'address').replace(/\/+$/, '')
    const opt = (k: string) => (body[k] === undefined || body[k] === null ? undefined : str(body[k], k))
    const capacity = body.capacity
    if (
      capacity !== undefined &&
      capacity !== null &&
      (typeof capacity !== 'number' || !Number.isSafeInteger(capacity) || capacity < 0)
    )
      throw fail(400, 'InvalidArgument', 'capacity is a whole number of bytes.')
    return c.json(
      await addNode(svc, {
        id: address,
        address,
        zone: opt('zone'),
        rack: opt('rack'),
        capacity: typeof capacity === 'number' ? capacity : undefined,
      }),
    )
  })
  admin.post('/nodes/drain', async (c) => c.json(await drainNode(svc, nodeId(await jsonBody(c)))))
  admin.post('/nodes/activate', async (c) => c.json(await activateNode(svc, nodeId(await jsonBody(c)))))
  admin.post('/nodes/remove', async (c) => c.json(await removeNode(svc, nodeId(await jsonBody(c)))))
  // SSE-KMS keys. A key is named by id or ARN, or by alias with its namespace (query or body:
  // ARNs hold '/' and ':', which do not travel well as path segments).
  admin.get('/kms/keys', async (c) => c.json({ keys: await listKmsKeys(svc, c.req.query('namespace') || undefined) }))
  admin.post('/kms/keys', async (c) => {
    const body = await jsonBody(c)
    const alias = body.alias === undefined ? undefined : str(body.alias, 'alias')
    const region = body.region === undefined ? (deps.region ?? 'us-east-1') : str(body.region, 'region')
    return c.json(await createKmsKey(svc, str(body.namespace, 'namespace'), { alias, region }), 201)
  })
  admin.get('/kms/key', async (c) =>
    c.json(await describeKmsKey(svc, str(c.req.query('key'), 'key'), c.req.query('namespace') || undefined)),
  )
  const keyAction = (
    run: (key: string, namespace: string | undefined, body: Record<string, unknown>) => Promise<unknown>,
  ) => {
    return async (c: Context) => {
      const body = await jsonBody(c)
      const namespace = body.namespace === undefined ? undefined : str(body.namespace, 'namespace')
      return c.json((await run(str(body.key, 'key'), namespace, body)) as object)
    }
  }
  admin.post(
    '/kms/key/enable',
    keyAction((k, ns) => enableKmsKey(svc, k, ns)),
  )
  admin.post(
    '/kms/key/disable',
    keyAction((k, ns) => disableKmsKey(svc, k, ns)),
  )
  admin.post(
    '/kms/key/schedule-deletion',
    keyAction((k, ns, body) => {
      if (body.days !== undefined && typeof body.days !== 'number')
        throw fail(400, 'InvalidArgument', 'days is a number.')
      return scheduleKmsKeyDeletion(svc, k, ns, body.days as number | undefined)
    }),
  )
  admin.post(
    '/kms/key/cancel-deletion',
    keyAction((k, ns) => cancelKmsKeyDeletion(svc, k, ns)),
  )

  admin.notFound((c) =>
    c.json({ error: 'NotFound', message: `No admin operation at ${c.req.method} ${c.req.path}` }, 404),
  )
  return admin
}
