/** @jsxImportSource hono/jsx */
/**
 * The web console under /_coffer/console/ (docs/architecture.md §13): sign-in with S3
 * credentials, a server-side session, CSRF on every state change, then the tenant pages
 * (tenant.tsx, acting through the S3 handler as the user) and the operator pages (operator.tsx,
 * root only, like the admin API). Served by the same Hono app on the same TLS listener.
 */
import { type Context, Hono } from 'hono'
import { bodyLimit } from 'hono/body-limit'
import {
  actorFor,
  clearSignInFailures,
  CONSOLE_SESSION_TTL_MS,
  isMetaUnavailable,
  consoleSession,
  createConsoleSession,
  endConsoleSession,
  lookupSecret,
  recordSignInFailure,
  type Service,
  type SharedSignInLimits,
  signInRetryAfter,
} from '../service/index.ts'
import { timingSafeEqual } from '../util/bytes.ts'
import type { Logger } from '../util/log.ts'
import type { Platform } from '../util/platform.ts'
import type { RequestMetrics } from '../util/request-metrics.ts'
import { AsUser, type S3Fetch } from './as-user.ts'
import { ASSETS } from './assets.ts'
import {
  COOKIE,
  clearedCookie,
  clientAddress,
  cookieValue,
  csrfMatches,
  SECURITY_HEADERS,
  sameOrigin,
  sessionCookie,
} from './guard.ts'
import { BASE, ErrorNote, Page } from './layout.tsx'
import { registerOperatorPages } from './operator.tsx'
import { attemptIds, FailureLimiter, MAX_ACCESS_KEY_LENGTH } from './rate-limit.ts'
import { registerBucketSettingsPages } from './bucket-settings.tsx'
import { registerTenantPages } from './tenant.tsx'
import type { ConsoleEnv } from './types.ts'

export interface ConsoleDeps {
  service: Service
  platform: Platform
  region: string
  /** The gateway's S3 handler: the console's bucket and object work goes through it as the user. */
  s3: S3Fetch
  logger?: Logger
  /** The last hour of S3 requests, drawn on the health page. */
  requestMetrics?: RequestMetrics
  /** Failed sign-ins, per access key and per client address (default SIGN_IN_LIMITS). */
  limiter?: FailureLimiter
  /** The same, counted in the metadata across gateways (default SHARED_SIGN_IN_LIMITS). */
  sharedLimits?: SharedSignInLimits
}

/** Forms, sign-in and a completion's JSON (10,000 parts fit): read whole, so bounded. */
export const SMALL_BODY_BYTES = 1024 * 1024
/** The script-less form upload, which the form parser buffers. */
export const FORM_UPLOAD_BYTES = 64 * 1024 * 1024
/** The upload API: streamed to PutObject / UploadPart, which apply S3's limits. */
const STREAMED = /^\/_coffer\/console\/api\/b\/[^/]+\/(object|multipart\/part)$/
const FORM_UPLOAD = /^\/_coffer\/console\/b\/[^/]+\/upload$/

function LoginPage(props: { error?: { code: string; message: string }; accessKeyId?: string }) {
  return (
    <Page title="Sign in">
      <ErrorNote error={props.error} />
      <form method="post" action={`${BASE}/login`} class="card narrow">
        <label for="accessKeyId">Access key</label>
        <input
          id="accessKeyId"
          name="accessKeyId"
          autocomplete="username"
          required
          value={props.accessKeyId ?? ''}
          spellcheck={false}
        />
        <label for="secretAccessKey">Secret key</label>
        <input id="secretAccessKey" name="secretAccessKey" type="password" autocomplete="current-password" required />
        <button type="submit">Sign in</button>
      </form>
      <p class="hint">Use the S3 credentials of your user; the console acts with exactly their rights.</p>
    </Page>
  )
}

export function createConsoleRoutes(deps: ConsoleDeps): Hono<ConsoleEnv> {
  // Its own app, mounted whole (src/app.ts): not strict, so `/_coffer/console/` is the home page.
  const app = new Hono<ConsoleEnv>({ strict: false }).basePath(BASE)
  const svc = deps.service
  const limiter = deps.limiter ?? new FailureLimiter()
  const asUser = new AsUser(deps)

  app.use('*', async (c, next) => {
    await next()
    for (const [k, v] of Object.entries(SECURITY_HEADERS)) if (!c.res.headers.has(k)) c.res.headers.set(k, v)
  })

  // Bodies the console reads whole (forms, sign-in, the JSON of a completion) are bounded before
  // any of it is read, sign-in included; only the upload API streams (to S3's own limits).
  const tooLarge = { onError: (c: Context<ConsoleEnv>) => c.text('The request body is too large.', 413) }
  const smallBody = bodyLimit({ maxSize: SMALL_BODY_BYTES, ...tooLarge })
  const formUpload = bodyLimit({ maxSize: FORM_UPLOAD_BYTES, ...tooLarge })
  app.use('*', async (c, next) => {
    if (c.req.method === 'GET' || c.req.method === 'HEAD' || STREAMED.test(c.req.path)) return next()
    return (FORM_UPLOAD.test(c.req.path) ? formUpload : smallBody)(c, next)
  })

  for (const [name, asset] of Object.entries(ASSETS)) {
    app.get(`/assets/${name}`, (c) =>
      c.body(asset.body, 200, { 'content-type': asset.type, 'cache-control': 'public, max-age=300' }),
    )
  }

  app.get('/login', (c) => c.html(<LoginPage />))
  app.post('/login', async (c) => {
    const host = c.req.header('host')
    if (!sameOrigin(c.req.raw.headers, host)) return c.text('Cross-site sign-in refused.', 403)
    const form = await c.req.parseBody()
    const accessKeyId = typeof form.accessKeyId === 'string' ? form.accessKeyId.trim() : ''
    const secret = typeof form.secretAccessKey === 'string' ? form.secretAccessKey : ''
    const { key: keyId, address } = attemptIds(accessKeyId, clientAddress(c.env?.connection))
    /** What is echoed back to the form and the log: never more than an access key's length. */
    const shownKey = accessKeyId.slice(0, MAX_ACCESS_KEY_LENGTH)
    // Counted twice: in the metadata, so N gateways give one budget, and in this gateway's
    // memory, which still holds when the shared table is full (rate-limit.ts).
    const wait = Math.max(
      limiter.retryAfter(address),
      limiter.retryAfter(keyId),
      await signInRetryAfter(svc, [address, keyId], Date.now(), deps.sharedLimits),
    )
    if (wait > 0) {
      const seconds = Math.ceil(wait / 1000)
      c.header('retry-after', String(seconds))
      return c.html(
        <LoginPage
          accessKeyId={shownKey}
          error={{ code: 'SlowDown', message: `Too many failed sign-ins: try again in ${seconds} seconds.` }}
        />,
        429,
      )
    }
    // The same secret SigV4 verification uses; compared in constant time.
    const plausible = accessKeyId !== '' && accessKeyId.length <= MAX_ACCESS_KEY_LENGTH
    const known = plausible ? await lookupSecret(svc, accessKeyId) : undefined
    if (known === undefined || !timingSafeEqual(known, secret)) {
      limiter.fail(address)
      limiter.fail(keyId)
      await recordSignInFailure(svc, [address, keyId], Date.now(), deps.sharedLimits)
      deps.logger?.log('warn', 'console sign-in failed', { accessKeyId: shownKey, address })
      return c.html(
        <LoginPage
          accessKeyId={shownKey}
          error={{ code: 'InvalidAccessKeyId', message: 'The access key or the secret key is wrong.' }}
        />,
        401,
      )
    }
    limiter.clear(keyId)
    await clearSignInFailures(svc, keyId)
    const { id } = await createConsoleSession(svc, accessKeyId)
    c.header('set-cookie', sessionCookie(id, Math.floor(CONSOLE_SESSION_TTL_MS / 1000), BASE))
    return c.redirect(`${BASE}/`, 303)
  })

  // Every other page needs a live session; every state change its CSRF token.
  app.use('*', async (c, next) => {
    const id = cookieValue(c.req.header('cookie'))
    const session = id === undefined ? undefined : await consoleSession(svc, id)
    const actor = session && (await actorFor(svc, session.accessKeyId).catch(() => undefined))
    if (!id || !session || !actor) {
      if (c.req.method === 'GET' || c.req.method === 'HEAD') return c.redirect(`${BASE}/login`, 303)
      return c.json({ error: 'AccessDenied', message: 'Sign in first: the session is missing or has ended.' }, 401)
    }
    if (c.req.method !== 'GET' && c.req.method !== 'HEAD') {
      if (!sameOrigin(c.req.raw.headers, c.req.header('host')))
        return c.json({ error: 'AccessDenied', message: 'Cross-site request refused.' }, 403)
      let sent = c.req.header('x-coffer-csrf')
      const type = c.req.header('content-type') ?? ''
      if (sent === undefined && /^(application\/x-www-form-urlencoded|multipart\/form-data)/.test(type)) {
        const form = await c.req.parseBody({ all: true })
        sent = typeof form._csrf === 'string' ? form._csrf : undefined
      }
      if (!csrfMatches(session.csrf, sent))
        return c.json({ error: 'InvalidCsrfToken', message: 'The form is stale or was not sent by the console.' }, 403)
    }
    c.set('sessionId', id)
    c.set('viewer', {
      displayName: actor.displayName,
      accessKeyId: actor.accessKeyId,
      namespace: actor.namespace,
      isRoot: actor.isRoot,
      csrf: session.csrf,
    })
    c.set('user', {
      accessKeyId: actor.accessKeyId,
      host: c.req.header('host') ?? '127.0.0.1',
      connection: c.env?.connection,
    })
    await next()
  })

  app.post('/logout', async (c) => {
    await endConsoleSession(svc, c.get('sessionId'))
    c.header('set-cookie', clearedCookie(BASE))
    return c.redirect(`${BASE}/login`, 303)
  })

  registerTenantPages(app, asUser)
  registerBucketSettingsPages(app, asUser)
  registerOperatorPages(app, svc, deps.requestMetrics)

  app.onError((e, c) => {
    if (isMetaUnavailable(e))
      return c.json({ error: 'ServiceUnavailable', message: 'The metadata is unreachable: try again shortly.' }, 503)
    deps.logger?.log('error', 'console request failed', {
      path: c.req.path,
      error: e instanceof Error ? e.message : String(e),
    })
    return c.json({ error: 'InternalError', message: 'The console could not complete the request.' }, 500)
  })
  app.notFound((c) => c.json({ error: 'NotFound', message: `No console page at ${c.req.path}` }, 404))
  return app
}

export { COOKIE }
