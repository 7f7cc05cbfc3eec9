/** @jsxImportSource hono/jsx */
/**
 * A bucket's settings pages: lifecycle rules (listed; a rule by prefix added — current versions,
 * noncurrent versions, unfinished uploads — or a rule removed), the bucket policy (a JSON
 * editor), the CORS configuration (an XML editor), versioning on/suspended. Like every tenant
 * page, each read and write is the S3 request itself, signed as the signed-in user (as-user.ts):
 * S3 validates (MalformedPolicy, MalformedXML, InvalidArgument…) and authorizes, and the page
 * shows its refusal as a sentence with the code.
 */
import type { Context, Hono } from 'hono'
import { parseXml, type XmlElement } from '../s3/xml/tree.ts'
import { type AsUser, children, childText, errorOf as s3ErrorOf, S3CallError } from './as-user.ts'
import { BASE, Notices, Page, PostForm, type Viewer } from './layout.tsx'
import type { ConsoleEnv } from './types.ts'

type C = Context<ConsoleEnv>
type Problem = { code: string; message: string }

const problemOf = (e: unknown): Problem => {
  if (e instanceof S3CallError) return { code: e.code, message: e.message }
  throw e
}
const statusOf = (p: Problem) => (p.code === 'AccessDenied' ? 403 : p.code === 'NoSuchBucket' ? 404 : 400)

const formText = async (c: C, name: string): Promise<string> => {
  const v = (await c.req.parseBody({ all: true }))[name]
  return typeof v === 'string' ? v : ''
}

const escapeXml = (s: string) => s.replace(/[<>&'"]/g, (ch) => `&#${ch.charCodeAt(0)};`)

/** An element back to XML as read: a rule the page does not draw (tags, noncurrent…) round-trips whole. */
export function xmlOf(el: XmlElement): string {
  const inner = el.children.length ? el.children.map(xmlOf).join('') : escapeXml(el.text)
  return `<${el.name}>${inner}</${el.name}>`
}

/**
 * An element as indented XML, one element a line and leaves inline: S3 returns a configuration on
 * one line, which an editor shows better this way. Attributes (the namespace) are left out.
 */
export function indentedXml(el: XmlElement, depth = 0): string {
  const pad = '  '.repeat(depth)
  if (el.children.length === 0) return `${pad}${xmlOf(el)}`
  return `${pad}<${el.name}>\n${el.children.map((c) => indentedXml(c, depth + 1)).join('\n')}\n${pad}</${el.name}>`
}

/** One lifecycle rule as the page lists it. */
export interface RuleView {
  id: string
  status: string
  scope: string
  actions: string[]
}

const path = (el: XmlElement | undefined, ...names: string[]): XmlElement | undefined =>
  names.reduce<XmlElement | undefined>((e, n) => e?.children.find((c) => c.name === n), el)

const daysText = (n: string) => `${n} day${n === '1' ? '' : 's'}`

export function ruleView(rule: XmlElement): RuleView {
  const filter = path(rule, 'Filter')
  const and = path(filter, 'And')
  const prefix =
    childText(rule, 'Prefix') ?? (filter && childText(filter, 'Prefix')) ?? (and && childText(and, 'Prefix'))
  const tags = [...(filter ? children(filter, 'Tag') : []), ...(and ? children(and, 'Tag') : [])].map(
    (t) => `${childText(t, 'Key') ?? ''}=${childText(t, 'Value') ?? ''}`,
  )
  const scope = [prefix ? `prefix ${prefix}` : 'whole bucket', ...tags.map((t) => `tag ${t}`)].join(', ')
  const actions: string[] = []
  const exp = path(rule, 'Expiration')
  if (exp) {
    const days = childText(exp, 'Days')
    const date = childText(exp, 'Date')
    if (days) actions.push(`expire current versions after ${daysText(days)}`)
    if (date) actions.push(`expire current versions on ${date}`)
    if (childText(exp, 'ExpiredObjectDeleteMarker') === 'true') actions.push('remove expired delete markers')
  }
  const nc = path(rule, 'NoncurrentVersionExpiration')
  if (nc) actions.push(`expire noncurrent versions after ${daysText(childText(nc, 'NoncurrentDays') ?? '?')}`)
  const abort = path(rule, 'AbortIncompleteMultipartUpload')
  if (abort) actions.push(`abort incomplete uploads after ${daysText(childText(abort, 'DaysAfterInitiation') ?? '?')}`)
  return { id: childText(rule, 'ID') ?? '', status: childText(rule, 'Status') ?? '', scope, actions }
}

/** What a rule added in the console does, each after its number of days (at least one is set). */
export interface RuleActions {
  /** Current versions expire this many days after they were written. */
  days?: number
  /** Versions expire this many days after they became noncurrent (versioned buckets). */
  noncurrentDays?: number
  /** Multipart uploads not completed this many days after they began are aborted. */
  abortDays?: number
}

/** A rule over the objects under `prefix`, its actions in the order S3's schema has them. */
export function ruleXml(id: string, prefix: string, a: RuleActions): string {
  return (
    `<Rule><ID>${escapeXml(id)}</ID><Filter><Prefix>${escapeXml(prefix)}</Prefix></Filter><Status>Enabled</Status>` +
    (a.days === undefined ? '' : `<Expiration><Days>${a.days}</Days></Expiration>`) +
    (a.noncurrentDays === undefined
      ? ''
      : `<NoncurrentVersionExpiration><NoncurrentDays>${a.noncurrentDays}</NoncurrentDays></NoncurrentVersionExpiration>`) +
    (a.abortDays === undefined
      ? ''
      : `<AbortIncompleteMultipartUpload><DaysAfterInitiation>${a.abortDays}</DaysAfterInitiation></AbortIncompleteMultipartUpload>`) +
    '</Rule>'
  )
}

/** A rule form's draft: every field as typed, so a refused one comes back as it was. */
export interface RuleDraft {
  id: string
  prefix: string
  days: string
  noncurrentDays: string
  abortDays: string
}

/**
 * The actions a draft asks for, or why it is refused: each field empty or a whole number of days
 * above 0 (S3's limit for a day count is a signed 32-bit integer), and at least one given.
 */
export function draftActions(d: RuleDraft): RuleActions | string {
  const out: RuleActions = {}
  for (const k of ['days', 'noncurrentDays', 'abortDays'] as const) {
    const v = d[k]
    if (v === '') continue
    const n = Number(v)
    if (!/^\d+$/.test(v) || !(n >= 1) || n > 2_147_483_647) return 'The number of days must be a whole number above 0.'
    out[k] = n
  }
  if (Object.keys(out).length === 0)
    return 'Give at least one number of days: current versions, noncurrent versions or incomplete uploads.'
  return out
}

export const lifecycleXml = (rules: string[]) =>
  `<LifecycleConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">${rules.join('')}</LifecycleConfiguration>`

const bucketLink = (bucket: string) => `${BASE}/b/${encodeURIComponent(bucket)}`

/** A number of days for one action of a rule; empty for none. */
function DaysField(props: { id: string; name: keyof RuleActions; label: string; value: string }) {
  return (
    <span class="pair">
      <label for={props.id}>{props.label}</label>
      <input id={props.id} name={props.name} type="number" min={1} value={props.value} placeholder="none" />
    </span>
  )
}

function LifecyclePage(props: {
  viewer: Viewer
  bucket: string
  rules?: RuleView[]
  error?: Problem
  done?: string
  draft?: RuleDraft
}) {
  const { bucket, viewer: v, rules } = props
  const action = `${bucketLink(bucket)}/lifecycle`
  return (
    <Page title={`Lifecycle of ${bucket}`} viewer={v}>
      <p class="crumbs">
        <a href={bucketLink(bucket)}>{bucket}</a> / lifecycle
      </p>
      <Notices notice={props} />
      {rules === undefined ? null : rules.length === 0 ? (
        <p id="no-rules">No lifecycle rules: objects stay until deleted.</p>
      ) : (
        <table id="rules">
          <thead>
            <tr>
              <th scope="col">Rule</th>
              <th scope="col">Status</th>
              <th scope="col">Applies to</th>
              <th scope="col">Actions</th>
              <th scope="col">
                <span class="sr-only">Remove</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {rules.map((r) => (
              <tr>
                <td>{r.id}</td>
                <td>{r.status}</td>
                <td>{r.scope}</td>
                <td>{r.actions.join('; ')}</td>
                <td>
                  <PostForm
                    action={`${action}/delete`}
                    csrf={v.csrf}
                    confirm={`Remove the lifecycle rule ${r.id}?`}
                    class="inline"
                  >
                    <input type="hidden" name="id" value={r.id} />
                    <button type="submit" class="danger" aria-label={`Remove rule ${r.id}`}>
                      Remove
                    </button>
                  </PostForm>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <PostForm action={action} csrf={v.csrf} class="card row">
        <label for="rule-id">Rule name</label>
        <input id="rule-id" name="id" maxLength={255} value={props.draft?.id ?? ''} placeholder="optional" />
        <label for="rule-prefix">Objects under prefix</label>
        <input id="rule-prefix" name="prefix" value={props.draft?.prefix ?? ''} placeholder="whole bucket" />
        <DaysField id="rule-days" name="days" label="expire after (days)" value={props.draft?.days ?? '30'} />
        <DaysField
          id="rule-noncurrent"
          name="noncurrentDays"
          label="noncurrent versions after (days)"
          value={props.draft?.noncurrentDays ?? ''}
        />
        <DaysField
          id="rule-abort"
          name="abortDays"
          label="abort unfinished uploads after (days)"
          value={props.draft?.abortDays ?? ''}
        />
        <button type="submit">Add expiration rule</button>
      </PostForm>
      <p class="hint">
        Rules are applied by the lifecycle worker in the background; in a versioned bucket expiring a current version
        leaves a delete marker, and a noncurrent version goes for good. Leave a field empty for no such action. Rules
        with tags or dates set by an S3 client are listed and kept as they are.
      </p>
    </Page>
  )
}

/**
 * A bucket's configuration document edited whole in a text area (the policy's JSON, the CORS
 * configuration's XML): read with GET on the sub-resource, saved with PUT, removed with DELETE when
 * emptied, S3 checking the document as it checks any client's.
 */
interface DocumentKind {
  /** The sub-resource: `?policy`, `?cors`; also the page's path and the form field. */
  resource: 'policy' | 'cors'
  /** Its name in sentences: "bucket policy", "CORS configuration". */
  name: string
  /** The S3 code for "none set". */
  absent: string
  contentType: string
  /** The label above the text area, the button, and the hint below. */
  label: string
  button: string
  hint: string
  /** What the text area holds when the bucket has none, and the sentence above it then. */
  none: { text: string; intro?: string }
  /** The document as the editor shows it. */
  shown: (text: string) => string
}

function DocumentPage(props: {
  kind: DocumentKind
  viewer: Viewer
  bucket: string
  document?: string
  none?: boolean
  error?: Problem
  done?: string
}) {
  const { kind, bucket, viewer: v } = props
  return (
    <Page title={`${kind.name[0]!.toUpperCase()}${kind.name.slice(1)} of ${bucket}`} viewer={v}>
      <p class="crumbs">
        <a href={bucketLink(bucket)}>{bucket}</a> / {kind.resource}
      </p>
      <Notices notice={props} />
      {props.document === undefined ? null : (
        <>
          {props.none && kind.none.intro ? <p>{kind.none.intro}</p> : null}
          <PostForm action={`${bucketLink(bucket)}/${kind.resource}`} csrf={v.csrf} class="card narrow wide">
            <label for={`bucket-${kind.resource}`}>{kind.label}</label>
            <textarea id={`bucket-${kind.resource}`} name={kind.resource} rows={18} spellcheck={false}>
              {props.document}
            </textarea>
            <button type="submit">{kind.button}</button>
          </PostForm>
          <p class="hint">{kind.hint}</p>
        </>
      )}
    </Page>
  )
}

export const CORS_EXAMPLE = `<CORSConfiguration>
  <CORSRule>
    <AllowedOrigin>https://app.example.com</AllowedOrigin>
    <AllowedMethod>GET</AllowedMethod>
    <AllowedMethod>PUT</AllowedMethod>
    <AllowedHeader>*</AllowedHeader>
    <ExposeHeader>ETag</ExposeHeader>
    <MaxAgeSeconds>3000</MaxAgeSeconds>
  </CORSRule>
</CORSConfiguration>`

/** Pretty-printed when it is JSON (S3 returns the document as it was put). */
const pretty = (text: string) => {
  try {
    return JSON.stringify(JSON.parse(text), null, 2)
  } catch {
    return text
  }
}

const POLICY: DocumentKind = {
  resource: 'policy',
  name: 'bucket policy',
  absent: 'NoSuchBucketPolicy',
  contentType: 'application/json',
  label: 'Bucket policy (JSON; empty to remove it)',
  button: 'Save policy',
  hint: 'Saved with PutBucketPolicy: S3 checks the document (MalformedPolicy says what is wrong) and Block Public Access may refuse a public one.',
  none: { text: '' },
  shown: pretty,
}

const CORS: DocumentKind = {
  resource: 'cors',
  name: 'CORS configuration',
  absent: 'NoSuchCORSConfiguration',
  contentType: 'application/xml',
  label: 'CORS configuration (XML; empty to remove it)',
  button: 'Save CORS configuration',
  hint: "Saved with PutBucketCors: S3 checks the document (MalformedXML and InvalidRequest say what is wrong). The rules answer browsers' preflight requests and add the CORS headers to every answer for an allowed origin.",
  none: {
    text: CORS_EXAMPLE,
    intro: 'This bucket has no CORS configuration: browsers on other sites get no access. An example:',
  },
  shown: (text) => {
    try {
      return indentedXml(parseXml(text))
    } catch {
      return text
    }
  },
}

export function registerBucketSettingsPages(app: Hono<ConsoleEnv>, asUser: AsUser): void {
  /** The bucket's rules as XML elements (none when it has no configuration). */
  const readRules = async (c: C, bucket: string): Promise<XmlElement[]> => {
    const res = await asUser.raw(c.get('user'), { method: 'GET', bucket, query: { lifecycle: '' } })
    if (res.ok) return children(parseXml(await res.text()), 'Rule')
    const err = await s3ErrorOf(res)
    if (err.code === 'NoSuchLifecycleConfiguration') return []
    throw err
  }
  const renderLifecycle = async (
    c: C,
    extra: { error?: Problem; done?: string; draft?: RuleDraft } = {},
    status = 200,
  ) => {
    const bucket = c.req.param('bucket') ?? ''
    try {
      const rules = (await readRules(c, bucket)).map(ruleView)
      return c.html(<LifecyclePage viewer={c.get('viewer')} bucket={bucket} rules={rules} {...extra} />, status as 200)
    } catch (e) {
      const error = problemOf(e)
      return c.html(
        <LifecyclePage viewer={c.get('viewer')} bucket={bucket} error={extra.error ?? error} />,
        statusOf(error) as 200,
      )
    }
  }
  /** Writes the whole configuration (S3 has no per-rule call); none left deletes it. */
  const writeRules = async (c: C, bucket: string, rules: string[]) => {
    const user = c.get('user')
    if (rules.length === 0) await asUser.ok(user, { method: 'DELETE', bucket, query: { lifecycle: '' } })
    else await asUser.ok(user, { method: 'PUT', bucket, query: { lifecycle: '' }, body: lifecycleXml(rules) })
  }

  app.get('/b/:bucket/lifecycle', (c) => renderLifecycle(c))
  app.post('/b/:bucket/lifecycle', async (c) => {
    const bucket = c.req.param('bucket')
    const draft: RuleDraft = {
      id: (await formText(c, 'id')).trim(),
      prefix: await formText(c, 'prefix'),
      days: (await formText(c, 'days')).trim(),
      noncurrentDays: (await formText(c, 'noncurrentDays')).trim(),
      abortDays: (await formText(c, 'abortDays')).trim(),
    }
    const actions = draftActions(draft)
    if (typeof actions === 'string')
      return renderLifecycle(c, { draft, error: { code: 'InvalidArgument', message: actions } }, 400)
    try {
      const existing = await readRules(c, bucket)
      const days = [actions.days, actions.noncurrentDays, actions.abortDays].map((n) => n ?? '-').join('-')
      const id = draft.id || `expire-${draft.prefix || 'all'}-${days}d`.slice(0, 255)
      if (existing.some((r) => childText(r, 'ID') === id))
        return renderLifecycle(
          c,
          {
            draft,
            error: { code: 'InvalidArgument', message: `A rule named ${id} exists already: choose another name.` },
          },
          400,
        )
      await writeRules(c, bucket, [...existing.map(xmlOf), ruleXml(id, draft.prefix, actions)])
      return renderLifecycle(c, { done: `Rule ${id} added.` })
    } catch (e) {
      const error = problemOf(e)
      return renderLifecycle(c, { draft, error }, statusOf(error))
    }
  })
  app.post('/b/:bucket/lifecycle/delete', async (c) => {
    const bucket = c.req.param('bucket')
    const id = await formText(c, 'id')
    try {
      const existing = await readRules(c, bucket)
      const kept = existing.filter((r) => (childText(r, 'ID') ?? '') !== id)
      if (kept.length === existing.length)
        return renderLifecycle(c, { error: { code: 'NoSuchLifecycleRule', message: `There is no rule ${id}.` } }, 404)
      await writeRules(c, bucket, kept.map(xmlOf))
      return renderLifecycle(c, { done: `Rule ${id} removed.` })
    } catch (e) {
      const error = problemOf(e)
      return renderLifecycle(c, { error }, statusOf(error))
    }
  })

  /** GET shows the document (or the kind's text for none); POST saves it, or removes it when emptied. */
  const editDocument = (kind: DocumentKind) => {
    const query = { [kind.resource]: '' }
    const render = async (c: C, extra: { error?: Problem; done?: string; draft?: string } = {}, status = 200) => {
      const bucket = c.req.param('bucket') ?? ''
      const viewer = c.get('viewer')
      try {
        const res = await asUser.raw(c.get('user'), { method: 'GET', bucket, query })
        let stored: string | undefined
        if (res.ok) stored = kind.shown(await res.text())
        else {
          const err = await s3ErrorOf(res)
          if (err.code !== kind.absent) throw err
        }
        return c.html(
          <DocumentPage
            kind={kind}
            viewer={viewer}
            bucket={bucket}
            document={extra.draft ?? stored ?? kind.none.text}
            none={extra.draft === undefined && stored === undefined}
            error={extra.error}
            done={extra.done}
          />,
          status as 200,
        )
      } catch (e) {
        const error = problemOf(e)
        return c.html(
          <DocumentPage kind={kind} viewer={viewer} bucket={bucket} error={extra.error ?? error} />,
          statusOf(error) as 200,
        )
      }
    }
    app.get(`/b/:bucket/${kind.resource}`, (c) => render(c))
    app.post(`/b/:bucket/${kind.resource}`, async (c) => {
      const bucket = c.req.param('bucket')
      const text = (await formText(c, kind.resource)).trim()
      const user = c.get('user')
      try {
        if (text === '') await asUser.ok(user, { method: 'DELETE', bucket, query })
        else
          await asUser.ok(user, {
            method: 'PUT',
            bucket,
            query,
            headers: { 'content-type': kind.contentType },
            body: text,
          })
      } catch (e) {
        const error = problemOf(e)
        return render(c, { error, draft: text }, statusOf(error))
      }
      return render(c, { done: `The ${kind.name} was ${text === '' ? 'removed' : 'saved'}.` })
    })
  }
  editDocument(POLICY)
  editDocument(CORS)

  app.post('/b/:bucket/versioning', async (c) => {
    const bucket = c.req.param('bucket')
    const status = await formText(c, 'status')
    if (status !== 'Enabled' && status !== 'Suspended')
      return c.json({ error: 'InvalidArgument', message: 'Versioning is Enabled or Suspended.' }, 400)
    try {
      await asUser.ok(c.get('user'), {
        method: 'PUT',
        bucket,
        query: { versioning: '' },
        body: `<VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Status>${status}</Status></VersioningConfiguration>`,
      })
    } catch (e) {
      const error = problemOf(e)
      return c.json({ error: error.code, message: error.message }, statusOf(error) as 400)
    }
    return c.redirect(bucketLink(bucket), 303)
  })
}
