/** @jsxImportSource hono/jsx */
/**
 * The tenant pages: buckets, the object browser (prefixes, pages of at most `max-keys`, versions),
 * object details, download, delete, share links, and the upload endpoints the page's script
 * streams files to. Every operation is an S3 request signed as the signed-in user (as-user.ts),
 * so S3's authorization decides what each user sees and may do.
 */
import type { Context, Hono } from 'hono'
import { parseXml } from '../s3/xml/tree.ts'
import { type AsUser, children, childText, errorOf as s3ErrorOf, S3CallError } from './as-user.ts'
import { BASE, ErrorNote, formatBytes, Page, PostForm, type Viewer } from './layout.tsx'
import type { ConsoleEnv } from './types.ts'

type C = Context<ConsoleEnv>

/** Keys per page of the object browser: a bucket of millions is listed one page at a time. */
export const PAGE_SIZE = 100

/** Share link lifetimes offered, in seconds (S3 allows at most 7 days). */
const SHARE_EXPIRIES: [number, string][] = [
  [3600, '1 hour'],
  [86_400, '1 day'],
  [604_800, '7 days'],
]

const errorOf = (e: unknown): { code: string; message: string } => {
  if (e instanceof S3CallError) return { code: e.code, message: e.message }
  throw e
}

const statusOf = (e: { code: string }, fallback: number) => (e.code === 'AccessDenied' ? 403 : fallback)

const bucketUrl = (bucket: string, q: Record<string, string | undefined> = {}) => {
  const params = new URLSearchParams(Object.entries(q).filter((e): e is [string, string] => e[1] !== undefined))
  const s = params.toString()
  return `${BASE}/b/${encodeURIComponent(bucket)}${s ? `?${s}` : ''}`
}

const parentPrefix = (key: string) => key.slice(0, key.lastIndexOf('/') + 1)

const formText = async (c: C, name: string): Promise<string> => {
  const v = (await c.req.parseBody({ all: true }))[name]
  return typeof v === 'string' ? v : ''
}

// ── buckets ─────────────────────────────────────────────────────────────────────────────────

interface BucketItem {
  name: string
  created: string
}

function BucketsPage(props: { viewer: Viewer; buckets?: BucketItem[]; error?: { code: string; message: string } }) {
  const v = props.viewer
  return (
    <Page title="Buckets" viewer={v}>
      <ErrorNote error={props.error} />
      <PostForm action={`${BASE}/buckets`} csrf={v.csrf} class="card row">
        <label for="bucket-name">New bucket</label>
        <input id="bucket-name" name="name" required minLength={3} maxLength={63} pattern="[a-z0-9][a-z0-9.\-]*" />
        <button type="submit">Create bucket</button>
      </PostForm>
      {props.buckets === undefined ? null : props.buckets.length === 0 ? (
        <p>No buckets yet.</p>
      ) : (
        <table>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Created</th>
              <th scope="col">
                <span class="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {props.buckets.map((b) => (
              <tr>
                <td>
                  <a href={bucketUrl(b.name)}>{b.name}</a>
                </td>
                <td>{b.created}</td>
                <td>
                  <PostForm
                    action={`${BASE}/b/${encodeURIComponent(b.name)}/delete`}
                    csrf={v.csrf}
                    confirm={`Delete the bucket ${b.name}? Only an empty bucket can be deleted.`}
                    class="inline"
                  >
                    <button type="submit" class="danger" aria-label={`Delete bucket ${b.name}`}>
                      Delete
                    </button>
                  </PostForm>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </Page>
  )
}

async function renderBuckets(c: C, asUser: AsUser, error?: { code: string; message: string }, status = 200) {
  const viewer = c.get('viewer')
  try {
    const doc = await asUser.xml(c.get('user'), { method: 'GET' })
    const list = doc.children.find((e) => e.name === 'Buckets')
    const buckets = (list ? children(list, 'Bucket') : []).map((b) => ({
      name: childText(b, 'Name') ?? '',
      created: childText(b, 'CreationDate') ?? '',
    }))
    return c.html(<BucketsPage viewer={viewer} buckets={buckets} error={error} />, status as 200)
  } catch (e) {
    const err = errorOf(e)
    return c.html(<BucketsPage viewer={viewer} error={error ?? err} />, statusOf(err, 502) as 200)
  }
}

// ── the object browser ──────────────────────────────────────────────────────────────────────

interface BucketState {
  versioning: string
  lock: string
  policy: string
  lifecycle: string
  cors: string
}

async function bucketState(c: C, asUser: AsUser, bucket: string): Promise<BucketState> {
  const user = c.get('user')
  /** The sub-resource's state; `absent` names the S3 codes that mean "none set" (shown as `none`). */
  const probe = async (
    query: Record<string, string>,
    read: (res: Response) => Promise<string>,
    absent: string[],
    none = 'off',
  ) => {
    const res = await asUser.raw(user, { method: 'GET', bucket, query })
    if (res.ok) return read(res)
    const err = await s3ErrorOf(res)
    return absent.includes(err.code) ? none : 'not available'
  }
  const text = async (res: Response, name: string, empty: string) =>
    childText(parseXml(await res.text()), name) ?? empty
  /** How many `element`s (a configuration's rules) the document has. */
  const rules = (element: string) => async (res: Response) => {
    const n = children(parseXml(await res.text()), element).length
    return `${n} rule${n === 1 ? '' : 's'}`
  }
  const [versioning, lock, policy, lifecycle, cors] = await Promise.all([
    probe({ versioning: '' }, (r) => text(r, 'Status', 'never enabled'), []),
    probe({ 'object-lock': '' }, (r) => text(r, 'ObjectLockEnabled', 'off'), ['ObjectLockConfigurationNotFoundError']),
    probe({ policy: '' }, async () => 'set', ['NoSuchBucketPolicy'], 'none'),
    probe({ lifecycle: '' }, rules('Rule'), ['NoSuchLifecycleConfiguration'], 'none'),
    probe({ cors: '' }, rules('CORSRule'), ['NoSuchCORSConfiguration'], 'none'),
  ])
  return { versioning, lock, policy, lifecycle, cors }
}

/** A bucket setting on the bucket page: its state, and a link to its page unless S3 refused to say. */
function SettingRow(props: { bucket: string; title: string; state: string; page: string; link: string }) {
  return (
    <>
      <dt>{props.title}</dt>
      <dd>
        {props.state}
        {props.state === 'not available' ? null : (
          <>
            {' · '}
            <a href={`${BASE}/b/${encodeURIComponent(props.bucket)}/${props.page}`}>{props.link}</a>
          </>
        )}
      </dd>
    </>
  )
}

interface Entry {
  key: string
  size: number
  modified: string
  versionId?: string
  latest?: boolean
  deleteMarker?: boolean
}

interface Listing {
  prefixes: string[]
  entries: Entry[]
  next?: Record<string, string>
}

function Breadcrumbs(props: { bucket: string; prefix: string }) {
  const parts = props.prefix.split('/').filter((p) => p !== '')
  let acc = ''
  return (
    <nav aria-label="Path" class="crumbs">
      <a href={bucketUrl(props.bucket)}>{props.bucket}</a>
      {parts.map((p) => {
        acc += `${p}/`
        return (
          <>
            {' / '}
            <a href={bucketUrl(props.bucket, { prefix: acc })}>{p}</a>
          </>
        )
      })}
    </nav>
  )
}

function UploadForm(props: { bucket: string; prefix: string; csrf: string }) {
  return (
    <PostForm
      action={`${BASE}/b/${encodeURIComponent(props.bucket)}/upload`}
      csrf={props.csrf}
      enctype="multipart/form-data"
      class="card upload"
    >
      <input type="hidden" name="prefix" value={props.prefix} />
      <div class="upload-controls" id="upload" data-bucket={props.bucket} data-prefix={props.prefix}>
        <label for="upload-files">Upload files</label>
        <input id="upload-files" name="file" type="file" multiple />
        <label for="upload-folder">or a folder</label>
        <input id="upload-folder" name="folder" type="file" webkitdirectory="" multiple />
        <button type="submit">Upload</button>
      </div>
      <ul id="upload-progress" class="progress-list" aria-live="polite" />
    </PostForm>
  )
}

/** Turns versioning on, or suspends it (never for a bucket with Object Lock, which keeps it on). */
function VersioningButton(props: { bucket: string; csrf: string; current: string; lock: string }) {
  if (props.current === 'not available' || props.lock === 'Enabled') return null
  const next = props.current === 'Enabled' ? 'Suspended' : 'Enabled'
  return (
    <PostForm
      action={`${BASE}/b/${encodeURIComponent(props.bucket)}/versioning`}
      csrf={props.csrf}
      class="inline"
      confirm={next === 'Suspended' ? 'Suspend versioning? Existing versions stay.' : undefined}
    >
      <input type="hidden" name="status" value={next} />{' '}
      <button type="submit">{next === 'Enabled' ? 'Enable versioning' : 'Suspend versioning'}</button>
    </PostForm>
  )
}

function BucketPage(props: {
  viewer: Viewer
  bucket: string
  prefix: string
  versions: boolean
  state?: BucketState
  listing?: Listing
  error?: { code: string; message: string }
}) {
  const { bucket, prefix, listing, state } = props
  const v = props.viewer
  return (
    <Page title={bucket} viewer={v}>
      <Breadcrumbs bucket={bucket} prefix={prefix} />
      <ErrorNote error={props.error} />
      {state ? (
        <dl class="state">
          <dt>Versioning</dt>
          <dd>
            {state.versioning}
            <VersioningButton bucket={bucket} csrf={v.csrf} current={state.versioning} lock={state.lock} />
          </dd>
          <dt>Object Lock</dt>
          <dd>{state.lock}</dd>
          <SettingRow bucket={bucket} title="Bucket policy" state={state.policy} page="policy" link="Edit policy" />
          <SettingRow
            bucket={bucket}
            title="Lifecycle"
            state={state.lifecycle}
            page="lifecycle"
            link="Lifecycle rules"
          />
          <SettingRow bucket={bucket} title="CORS" state={state.cors} page="cors" link="Edit CORS" />
        </dl>
      ) : null}
      {state && state.versioning !== 'never enabled' && state.versioning !== 'not available' ? (
        <p>
          {props.versions ? (
            <a href={bucketUrl(bucket, { prefix })}>Show current objects</a>
          ) : (
            <a href={bucketUrl(bucket, { prefix, versions: '1' })}>Show all versions</a>
          )}
        </p>
      ) : null}
      <UploadForm bucket={bucket} prefix={prefix} csrf={v.csrf} />
      <div id="listing">
        {listing ? (
          <table class="objects">
            <thead>
              <tr>
                <th scope="col">Name</th>
                {props.versions ? <th scope="col">Version</th> : null}
                <th scope="col">Size</th>
                <th scope="col">Last modified</th>
              </tr>
            </thead>
            <tbody>
              {listing.prefixes.map((p) => (
                <tr class="folder">
                  <td>
                    <a href={bucketUrl(bucket, { prefix: p, versions: props.versions ? '1' : undefined })}>
                      {p.slice(prefix.length)}
                    </a>
                  </td>
                  {props.versions ? <td /> : null}
                  <td>—</td>
                  <td />
                </tr>
              ))}
              {listing.entries.map((e) => (
                <tr>
                  <td>
                    <a
                      href={`${BASE}/b/${encodeURIComponent(bucket)}/object?${new URLSearchParams({
                        key: e.key,
                        ...(e.versionId && e.versionId !== 'null' ? { versionId: e.versionId } : {}),
                      })}`}
                    >
                      {e.key.slice(prefix.length)}
                    </a>
                  </td>
                  {props.versions ? (
                    <td>
                      <code>{e.versionId}</code>
                      {e.latest ? ' (current)' : ''}
                      {e.deleteMarker ? ' delete marker' : ''}
                    </td>
                  ) : null}
                  <td>{e.deleteMarker ? '—' : formatBytes(e.size)}</td>
                  <td>{e.modified}</td>
                </tr>
              ))}
            </tbody>
          </table>
        ) : null}
        {listing && listing.prefixes.length === 0 && listing.entries.length === 0 ? <p>Nothing here yet.</p> : null}
        <nav aria-label="Pages" class="pager">
          {listing?.next ? (
            <a rel="next" href={bucketUrl(bucket, { prefix, ...listing.next })}>
              Next page
            </a>
          ) : null}
        </nav>
      </div>
    </Page>
  )
}

async function listCurrent(c: C, asUser: AsUser, bucket: string, prefix: string, max: number): Promise<Listing> {
  const doc = await asUser.xml(c.get('user'), {
    method: 'GET',
    bucket,
    query: {
      'list-type': '2',
      delimiter: '/',
      prefix,
      'max-keys': String(max),
      'continuation-token': c.req.query('token') || undefined,
    },
  })
  const token = childText(doc, 'NextContinuationToken')
  return {
    prefixes: children(doc, 'CommonPrefixes').map((p) => childText(p, 'Prefix') ?? ''),
    entries: children(doc, 'Contents').map((o) => ({
      key: childText(o, 'Key') ?? '',
      size: Number(childText(o, 'Size') ?? 0),
      modified: childText(o, 'LastModified') ?? '',
    })),
    next: childText(doc, 'IsTruncated') === 'true' && token ? { token } : undefined,
  }
}

async function listVersions(c: C, asUser: AsUser, bucket: string, prefix: string, max: number): Promise<Listing> {
  const doc = await asUser.xml(c.get('user'), {
    method: 'GET',
    bucket,
    query: {
      versions: '',
      delimiter: '/',
      prefix,
      'max-keys': String(max),
      'key-marker': c.req.query('keyMarker') || undefined,
      'version-id-marker': c.req.query('versionIdMarker') || undefined,
    },
  })
  const entries = doc.children
    .filter((e) => e.name === 'Version' || e.name === 'DeleteMarker')
    .map((o) => ({
      key: childText(o, 'Key') ?? '',
      size: Number(childText(o, 'Size') ?? 0),
      modified: childText(o, 'LastModified') ?? '',
      versionId: childText(o, 'VersionId'),
      latest: childText(o, 'IsLatest') === 'true',
      deleteMarker: o.name === 'DeleteMarker',
    }))
  const keyMarker = childText(doc, 'NextKeyMarker')
  const versionIdMarker = childText(doc, 'NextVersionIdMarker')
  return {
    prefixes: children(doc, 'CommonPrefixes').map((p) => childText(p, 'Prefix') ?? ''),
    entries,
    next:
      childText(doc, 'IsTruncated') === 'true' && keyMarker
        ? { versions: '1', keyMarker, ...(versionIdMarker ? { versionIdMarker } : {}) }
        : undefined,
  }
}

// ── one object ──────────────────────────────────────────────────────────────────────────────

function ObjectPage(props: {
  viewer: Viewer
  bucket: string
  objectKey: string
  versionId?: string
  head?: Headers
  share?: { url: string; expires: string }
  error?: { code: string; message: string }
}) {
  const { bucket, objectKey: key, head } = props
  const v = props.viewer
  const enc = encodeURIComponent(bucket)
  const q = new URLSearchParams({ key, ...(props.versionId ? { versionId: props.versionId } : {}) })
  const meta = head ? [...head.entries()].filter(([k]) => k.startsWith('x-amz-meta-')) : []
  return (
    <Page title={key} viewer={v}>
      <Breadcrumbs bucket={bucket} prefix={parentPrefix(key)} />
      <ErrorNote error={props.error} />
      {head ? (
        <dl class="state">
          <dt>Size</dt>
          <dd>
            {formatBytes(Number(head.get('content-length') ?? 0))} ({head.get('content-length')} bytes)
          </dd>
          <dt>Last modified</dt>
          <dd>{head.get('last-modified')}</dd>
          <dt>Content type</dt>
          <dd>{head.get('content-type')}</dd>
          <dt>ETag</dt>
          <dd>
            <code>{head.get('etag')}</code>
          </dd>
          {head.get('x-amz-version-id') ? (
            <>
              <dt>Version</dt>
              <dd>
                <code>{head.get('x-amz-version-id')}</code>
              </dd>
            </>
          ) : null}
          {meta.map(([k, val]) => (
            <>
              <dt>{k.slice('x-amz-meta-'.length)}</dt>
              <dd>{val}</dd>
            </>
          ))}
        </dl>
      ) : null}
      <p class="actions">
        <a class="button" href={`${BASE}/b/${enc}/download?${q}`} download>
          Download
        </a>
      </p>
      <PostForm action={`${BASE}/b/${enc}/share`} csrf={v.csrf} class="card row">
        <input type="hidden" name="key" value={key} />
        <label for="share-expiry">Share link valid for</label>
        <select id="share-expiry" name="expires">
          {SHARE_EXPIRIES.map(([s, label]) => (
            <option value={String(s)}>{label}</option>
          ))}
        </select>
        <button type="submit">Make share link</button>
      </PostForm>
      {props.share ? (
        <div class="card share">
          <label for="share-url">Share link (anyone with it can download until {props.share.expires})</label>
          <input id="share-url" readonly value={props.share.url} />
          <button type="button" data-copy="share-url">
            Copy link
          </button>
        </div>
      ) : null}
      <PostForm
        action={`${BASE}/b/${enc}/object/delete`}
        csrf={v.csrf}
        confirm={`Delete ${key}${props.versionId ? ` (version ${props.versionId}) for good` : ''}?`}
      >
        <input type="hidden" name="key" value={key} />
        {props.versionId ? <input type="hidden" name="versionId" value={props.versionId} /> : null}
        <button type="submit" class="danger">
          {props.versionId ? 'Delete this version' : 'Delete'}
        </button>
      </PostForm>
    </Page>
  )
}

async function renderObject(
  c: C,
  asUser: AsUser,
  bucket: string,
  key: string,
  versionId: string | undefined,
  extra: { share?: { url: string; expires: string }; error?: { code: string; message: string } } = {},
) {
  const viewer = c.get('viewer')
  try {
    const res = await asUser.ok(c.get('user'), { method: 'HEAD', bucket, key, query: { versionId } })
    return c.html(
      <ObjectPage
        viewer={viewer}
        bucket={bucket}
        objectKey={key}
        versionId={versionId}
        head={res.headers}
        {...extra}
      />,
    )
  } catch (e) {
    const err = errorOf(e)
    return c.html(
      <ObjectPage viewer={viewer} bucket={bucket} objectKey={key} versionId={versionId} error={extra.error ?? err} />,
      (err.code === 'AccessDenied' ? 403 : 404) as 200,
    )
  }
}

// ── routes ──────────────────────────────────────────────────────────────────────────────────

/** Answers an upload API call: S3's status and code as JSON, for the page's script to show. */
const apiError = (c: C, e: unknown) => {
  const err = errorOf(e)
  const status = e instanceof S3CallError && e.status >= 400 && e.status < 600 ? e.status : 502
  return c.json({ error: err.code, message: err.message }, status as 400)
}

const escapeXml = (s: string) => s.replace(/[<>&'"]/g, (ch) => `&#${ch.charCodeAt(0)};`)

export function registerTenantPages(app: Hono<ConsoleEnv>, asUser: AsUser): void {
  app.get('/', (c) => renderBuckets(c, asUser))

  app.post('/buckets', async (c) => {
    const name = (await formText(c, 'name')).trim()
    try {
      await asUser.ok(c.get('user'), { method: 'PUT', bucket: name })
    } catch (e) {
      const err = errorOf(e)
      return renderBuckets(c, asUser, err, statusOf(err, 400))
    }
    return c.redirect(`${BASE}/`, 303)
  })

  app.post('/b/:bucket/delete', async (c) => {
    try {
      await asUser.ok(c.get('user'), { method: 'DELETE', bucket: c.req.param('bucket') })
    } catch (e) {
      const err = errorOf(e)
      return renderBuckets(c, asUser, err, statusOf(err, 409))
    }
    return c.redirect(`${BASE}/`, 303)
  })

  app.get('/b/:bucket', async (c) => {
    const bucket = c.req.param('bucket')
    const prefix = c.req.query('prefix') ?? ''
    const versions = c.req.query('versions') === '1'
    const asked = Number(c.req.query('max') ?? PAGE_SIZE)
    const max = Number.isInteger(asked) && asked >= 1 && asked <= 1000 ? asked : PAGE_SIZE
    const viewer = c.get('viewer')
    try {
      const listing = await (versions ? listVersions : listCurrent)(c, asUser, bucket, prefix, max)
      const state = await bucketState(c, asUser, bucket)
      return c.html(
        <BucketPage
          viewer={viewer}
          bucket={bucket}
          prefix={prefix}
          versions={versions}
          state={state}
          listing={listing}
        />,
      )
    } catch (e) {
      const err = errorOf(e)
      return c.html(
        <BucketPage viewer={viewer} bucket={bucket} prefix={prefix} versions={versions} error={err} />,
        statusOf(err, 404) as 200,
      )
    }
  })

  app.get('/b/:bucket/object', (c) => {
    const key = c.req.query('key') ?? ''
    // An empty key would address the bucket itself: say so rather than show the bucket's headers.
    if (key === '') return c.json({ error: 'InvalidArgument', message: 'Name an object: ?key=… is required.' }, 400)
    return renderObject(c, asUser, c.req.param('bucket'), key, c.req.query('versionId') || undefined)
  })

  app.get('/b/:bucket/download', async (c) => {
    const bucket = c.req.param('bucket')
    const key = c.req.query('key') ?? ''
    if (key === '') return c.json({ error: 'InvalidArgument', message: 'Name an object: ?key=… is required.' }, 400)
    let res: Response
    try {
      res = await asUser.ok(c.get('user'), {
        method: 'GET',
        bucket,
        key,
        query: { versionId: c.req.query('versionId') || undefined },
      })
    } catch (e) {
      return apiError(c, e)
    }
    const name = key.slice(key.lastIndexOf('/') + 1) || 'download'
    const headers = new Headers({
      // Always a download, never a page of this origin: uploaded HTML must not run beside the console.
      'content-type': 'application/octet-stream',
      'content-disposition': `attachment; filename*=UTF-8''${encodeURIComponent(name)}`,
      'content-security-policy': "sandbox; default-src 'none'",
    })
    for (const h of ['content-length', 'etag', 'last-modified']) {
      const v = res.headers.get(h)
      if (v !== null) headers.set(h, v)
    }
    return new Response(res.body, { status: 200, headers })
  })

  app.post('/b/:bucket/object/delete', async (c) => {
    const bucket = c.req.param('bucket')
    const key = await formText(c, 'key')
    const versionId = (await formText(c, 'versionId')) || undefined
    try {
      await asUser.ok(c.get('user'), { method: 'DELETE', bucket, key, query: { versionId } })
    } catch (e) {
      return renderObject(c, asUser, bucket, key, versionId, { error: errorOf(e) })
    }
    return c.redirect(bucketUrl(bucket, { prefix: parentPrefix(key) || undefined }), 303)
  })

  app.post('/b/:bucket/share', async (c) => {
    const bucket = c.req.param('bucket')
    const key = await formText(c, 'key')
    const seconds = Number(await formText(c, 'expires'))
    const expires = SHARE_EXPIRIES.find(([s]) => s === seconds)
    if (!expires)
      return renderObject(c, asUser, bucket, key, undefined, {
        error: { code: 'InvalidArgument', message: 'Choose one of the offered expiry times.' },
      })
    const url = await asUser.presignGet(c.get('user'), bucket, key, expires[0])
    const until = new Date(Date.now() + expires[0] * 1000).toISOString()
    return renderObject(c, asUser, bucket, key, undefined, { share: { url, expires: until } })
  })

  // Without the page's script: a plain form upload (buffered by the form parser, so small files).
  app.post('/b/:bucket/upload', async (c) => {
    const bucket = c.req.param('bucket')
    const form = await c.req.parseBody({ all: true })
    const prefix = typeof form.prefix === 'string' ? form.prefix : ''
    const files = [form.file, form.folder].flat().filter((f): f is File => f instanceof File && f.name !== '')
    for (const f of files) {
      try {
        await asUser.ok(c.get('user'), {
          method: 'PUT',
          bucket,
          key: prefix + f.name,
          headers: { 'content-length': String(f.size), 'content-type': f.type || 'application/octet-stream' },
          body: f.stream(),
        })
      } catch (e) {
        const err = errorOf(e)
        return c.html(
          <BucketPage viewer={c.get('viewer')} bucket={bucket} prefix={prefix} versions={false} error={err} />,
          statusOf(err, 400) as 200,
        )
      }
    }
    return c.redirect(bucketUrl(bucket, { prefix: prefix || undefined }), 303)
  })

  // ── the upload API the page's script uses (JSON answers; CSRF in the x-coffer-csrf header) ──

  /** The browser's body streamed to PutObject / UploadPart: never buffered here. */
  const streamed = (c: C) => {
    const headers: Record<string, string> = {}
    const length = c.req.header('content-length')
    if (length !== undefined) headers['content-length'] = length
    return { headers, body: c.req.raw.body ?? undefined }
  }

  app.put('/api/b/:bucket/object', async (c) => {
    const { headers, body } = streamed(c)
    try {
      const res = await asUser.ok(c.get('user'), {
        method: 'PUT',
        bucket: c.req.param('bucket'),
        key: c.req.query('key') ?? '',
        headers: { ...headers, 'content-type': c.req.header('x-coffer-content-type') || 'application/octet-stream' },
        body,
      })
      return c.json({ etag: res.headers.get('etag') })
    } catch (e) {
      return apiError(c, e)
    }
  })

  app.post('/api/b/:bucket/multipart', async (c) => {
    try {
      const doc = await asUser.xml(c.get('user'), {
        method: 'POST',
        bucket: c.req.param('bucket'),
        key: c.req.query('key') ?? '',
        query: { uploads: '' },
        headers: { 'content-type': c.req.header('x-coffer-content-type') || 'application/octet-stream' },
      })
      return c.json({ uploadId: childText(doc, 'UploadId') })
    } catch (e) {
      return apiError(c, e)
    }
  })

  app.put('/api/b/:bucket/multipart/part', async (c) => {
    const { headers, body } = streamed(c)
    try {
      const res = await asUser.ok(c.get('user'), {
        method: 'PUT',
        bucket: c.req.param('bucket'),
        key: c.req.query('key') ?? '',
        query: { partNumber: c.req.query('partNumber'), uploadId: c.req.query('uploadId') },
        headers,
        body,
      })
      return c.json({ etag: res.headers.get('etag') })
    } catch (e) {
      return apiError(c, e)
    }
  })

  app.post('/api/b/:bucket/multipart/complete', async (c) => {
    let parts: { partNumber: number; etag: string }[]
    try {
      const body = (await c.req.json()) as { parts?: unknown }
      if (!Array.isArray(body.parts) || body.parts.length === 0 || body.parts.length > 10_000) throw new Error()
      parts = body.parts.map((p: { partNumber?: unknown; etag?: unknown }) => {
        if (!Number.isInteger(p.partNumber) || typeof p.etag !== 'string') throw new Error()
        return { partNumber: p.partNumber as number, etag: p.etag }
      })
    } catch {
      return c.json({ error: 'MalformedJSON', message: 'Send {"parts": [{"partNumber": 1, "etag": "…"}, …]}.' }, 400)
    }
    const xml = `<CompleteMultipartUpload>${parts
      .map((p) => `<Part><PartNumber>${p.partNumber}</PartNumber><ETag>${escapeXml(p.etag)}</ETag></Part>`)
      .join('')}</CompleteMultipartUpload>`
    try {
      const doc = await asUser.xml(c.get('user'), {
        method: 'POST',
        bucket: c.req.param('bucket'),
        key: c.req.query('key') ?? '',
        query: { uploadId: c.req.query('uploadId') },
        body: xml,
      })
      if (doc.name === 'Error')
        return c.json({ error: childText(doc, 'Code'), message: childText(doc, 'Message') }, 400)
      return c.json({ etag: childText(doc, 'ETag') })
    } catch (e) {
      return apiError(c, e)
    }
  })

  app.post('/api/b/:bucket/multipart/abort', async (c) => {
    try {
      await asUser.ok(c.get('user'), {
        method: 'DELETE',
        bucket: c.req.param('bucket'),
        key: c.req.query('key') ?? '',
        query: { uploadId: c.req.query('uploadId') },
      })
      return c.json({ aborted: true })
    } catch (e) {
      return apiError(c, e)
    }
  })
}
