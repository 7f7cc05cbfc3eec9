/**
 * The web console over TLS against a real server, at the HTTP level: security headers, the
 * session cookie, sign-in refusals and their rate limit, CSRF, sign-out killing the session on
 * the server, and the console acting with exactly its user's rights (another tenant's bucket,
 * the operator pages). The real-browser walk-through is in console-browser.test.ts.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { request } from 'node:https'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  CreateBucketCommand,
  GetBucketLifecycleConfigurationCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutBucketLifecycleConfigurationCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
} from '@aws-sdk/client-s3'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CORS_EXAMPLE } from '../../src/console/bucket-settings.tsx'
import { type Credentials, tenant } from '../helpers/admin.ts'
import { s3Client } from '../helpers/s3-client.ts'
import { printServerLogOnFailure } from '../helpers/server-log.ts'
import { randomCredentials, startServer, type TestServer } from '../helpers/server.ts'

interface Res {
  status: number
  headers: Record<string, string | string[] | undefined>
  body: string
}

const BASE = '/_coffer/console'

function send(
  server: TestServer,
  method: string,
  path: string,
  opts: { headers?: Record<string, string>; body?: string } = {},
): Promise<Res> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port: server.port,
        path,
        method,
        ca: server.caPem,
        agent: false,
        timeout: 20_000,
        headers: {
          ...(opts.body !== undefined ? { 'content-length': String(Buffer.byteLength(opts.body)) } : {}),
          ...opts.headers,
        },
      },
      (res) => {
        let body = ''
        res
          .setEncoding('utf8')
          .on('data', (c: string) => (body += c))
          .on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }))
      },
    )
    req.on('timeout', () => req.destroy(new Error(`${method} ${path}: no answer within 20 s`)))
    req.on('error', reject)
    req.end(opts.body)
  })
}

const form = (fields: Record<string, string>) => ({
  headers: { 'content-type': 'application/x-www-form-urlencoded' },
  body: new URLSearchParams(fields).toString(),
})

/** A signed-in session: its cookie header and CSRF token. */
interface Session {
  cookie: string
  csrf: string
}

async function signIn(server: TestServer, creds: Credentials): Promise<Session> {
  const r = await send(
    server,
    'POST',
    `${BASE}/login`,
    form({ accessKeyId: creds.accessKeyId, secretAccessKey: creds.secretAccessKey }),
  )
  expect(r.status).toBe(303)
  const setCookie = ([] as string[]).concat(r.headers['set-cookie'] ?? [])[0] ?? ''
  const cookie = setCookie.split(';')[0]!
  const page = await send(server, 'GET', `${BASE}/`, { headers: { cookie } })
  expect(page.status).toBe(200)
  const csrf = /<meta name="coffer-csrf" content="([0-9a-f]{64})"/.exec(page.body)?.[1]
  expect(csrf).toBeDefined()
  return { cookie, csrf: csrf! }
}

describe('web console (HTTP)', () => {
  let server: TestServer
  let alice: Credentials
  let bob: Credentials
  printServerLogOnFailure(() => server)
  beforeAll(async () => {
    server = await startServer()
    alice = await tenant(server, 'alice', 'on')
    bob = await tenant(server, 'bob', 'off')
    await s3Client(server, alice).send(new CreateBucketCommand({ Bucket: 'alice-private' }))
    await s3Client(server, alice).send(
      new PutObjectCommand({ Bucket: 'alice-private', Key: 'secret.txt', Body: 'alice only' }),
    )
  })
  afterAll(async () => {
    await server?.stop()
  })

  it('serves the sign-in page with a strict CSP, no framing, nosniff; assets from the package', async () => {
    const r = await send(server, 'GET', `${BASE}/login`)
    expect(r.status).toBe(200)
    const csp = String(r.headers['content-security-policy'])
    expect(csp).toContain("script-src 'self'")
    expect(csp).toContain("style-src 'self'")
    expect(csp).toContain("frame-ancestors 'none'")
    expect(csp).not.toContain('unsafe-inline')
    expect(r.headers['x-frame-options']).toBe('DENY')
    expect(r.headers['x-content-type-options']).toBe('nosniff')
    // No inline script or style: every <script> has a src, no style attributes or elements.
    expect(r.body).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/)
    expect(r.body).not.toMatch(/<style|\sstyle=/)
    const js = await send(server, 'GET', `${BASE}/assets/console.js`)
    expect(js.status).toBe(200)
    expect(js.headers['content-type']).toMatch(/^text\/javascript/)
    expect(js.body).toContain('x-coffer-csrf')
  })

  it('a page without a session redirects to sign-in; a state change without one is 401', async () => {
    const page = await send(server, 'GET', `${BASE}/`)
    expect(page.status).toBe(303)
    expect(page.headers.location).toBe(`${BASE}/login`)
    const post = await send(server, 'POST', `${BASE}/buckets`, form({ name: 'nope-bucket' }))
    expect(post.status).toBe(401)
  })

  it('bounds what it reads whole: an oversized sign-in body is 413 before it is read', async () => {
    const big = 'x'.repeat(2 * 1024 * 1024)
    const r = await send(server, 'POST', `${BASE}/login`, {
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `accessKeyId=a&secretAccessKey=${big}`,
    })
    expect(r.status).toBe(413)
  })

  it('signs in with S3 credentials: HttpOnly, Secure, SameSite=Strict cookie with an expiry', async () => {
    const r = await send(
      server,
      'POST',
      `${BASE}/login`,
      form({ accessKeyId: alice.accessKeyId, secretAccessKey: alice.secretAccessKey }),
    )
    expect(r.status).toBe(303)
    const cookie = ([] as string[]).concat(r.headers['set-cookie'] ?? [])[0] ?? ''
    expect(cookie).toMatch(/^coffer_console=[0-9a-f]{64};/)
    expect(cookie).toMatch(/; HttpOnly/)
    expect(cookie).toMatch(/; Secure/)
    expect(cookie).toMatch(/; SameSite=Strict/)
    expect(cookie).toMatch(/; Max-Age=\d+/)
    expect(cookie).toMatch(/; Path=\/_coffer\/console/)
  })

  it('refuses a cross-site sign-in (login CSRF)', async () => {
    const f = form({ accessKeyId: alice.accessKeyId, secretAccessKey: alice.secretAccessKey })
    const r = await send(server, 'POST', `${BASE}/login`, {
      ...f,
      headers: { ...f.headers, origin: 'https://evil.example' },
    })
    expect(r.status).toBe(403)
    expect(r.headers['set-cookie']).toBeUndefined()
  })

  it('refuses a state change without the CSRF token, or with another session’s token', async () => {
    const a = await signIn(server, alice)
    const b = await signIn(server, bob)
    const none = await send(server, 'POST', `${BASE}/buckets`, {
      ...form({ name: 'csrf-less' }),
      headers: { ...form({}).headers, cookie: a.cookie },
    })
    expect(none.status).toBe(403)
    expect(JSON.parse(none.body)).toMatchObject({ error: 'InvalidCsrfToken' })
    const wrong = await send(server, 'POST', `${BASE}/buckets`, {
      ...form({ name: 'csrf-wrong', _csrf: b.csrf }),
      headers: { ...form({}).headers, cookie: a.cookie },
    })
    expect(wrong.status).toBe(403)
    // The bucket was not created: list as alice.
    const list = await send(server, 'GET', `${BASE}/`, { headers: { cookie: a.cookie } })
    expect(list.body).not.toContain('csrf-less')
    expect(list.body).not.toContain('csrf-wrong')
    // With the token it works.
    const ok = await send(server, 'POST', `${BASE}/buckets`, {
      ...form({ name: 'csrf-ok-bucket', _csrf: a.csrf }),
      headers: { ...form({}).headers, cookie: a.cookie },
    })
    expect(ok.status).toBe(303)
    const after = await send(server, 'GET', `${BASE}/`, { headers: { cookie: a.cookie } })
    expect(after.body).toContain('csrf-ok-bucket')
  })

  it('a user sees only its own namespace: another tenant’s bucket is refused, and not listed', async () => {
    const b = await signIn(server, bob)
    const list = await send(server, 'GET', `${BASE}/`, { headers: { cookie: b.cookie } })
    expect(list.status).toBe(200)
    expect(list.body).not.toContain('alice-private')
    const browse = await send(server, 'GET', `${BASE}/b/alice-private`, { headers: { cookie: b.cookie } })
    expect(browse.status).toBe(403)
    expect(browse.body).toContain('AccessDenied')
    expect(browse.body).not.toContain('secret.txt')
    const download = await send(server, 'GET', `${BASE}/b/alice-private/download?key=secret.txt`, {
      headers: { cookie: b.cookie },
    })
    expect(download.status).toBe(403)
    expect(download.body).not.toContain('alice only')
    // Alice herself sees it.
    const a = await signIn(server, alice)
    const mine = await send(server, 'GET', `${BASE}/b/alice-private`, { headers: { cookie: a.cookie } })
    expect(mine.status).toBe(200)
    expect(mine.body).toContain('secret.txt')
  })

  it('browses by prefix one page at a time, following S3 continuation tokens', async () => {
    const s3 = s3Client(server, alice)
    await s3.send(new CreateBucketCommand({ Bucket: 'alice-pages' }))
    for (const key of ['top.txt', 'dir/a', 'dir/b', 'dir/c', 'dir/d', 'dir/e', 'dir/sub/deep'])
      await s3.send(new PutObjectCommand({ Bucket: 'alice-pages', Key: key, Body: key }))
    const a = await signIn(server, alice)
    const get = (q: string) => send(server, 'GET', `${BASE}/b/alice-pages?${q}`, { headers: { cookie: a.cookie } })
    const top = await get('')
    expect(top.body).toContain('>top.txt<')
    expect(top.body).toContain('>dir/<')
    expect(top.body).not.toContain('dir/a')
    // Two keys per page under dir/: a, b | c, d | e, sub/ — each page only its own.
    const seen: string[] = []
    let q = `prefix=${encodeURIComponent('dir/')}&max=2`
    for (let page = 0; page < 10 && q; page++) {
      const r = await get(q)
      expect(r.status).toBe(200)
      const names = [...r.body.matchAll(/<td><a href="[^"]*">([^<]+)<\/a><\/td>/g)].map((m) => m[1]!)
      expect(names.length).toBeLessThanOrEqual(2)
      seen.push(...names)
      const next = /<a rel="next" href="[^"?]*\?([^"]+)"/.exec(r.body)?.[1]
      q = next ? `${next.replaceAll('&amp;', '&')}&max=2` : ''
    }
    // Each key once, over three pages (a page shows its folders before its objects).
    expect([...seen].sort()).toEqual(['a', 'b', 'c', 'd', 'e', 'sub/'])
  })

  it('shows a versioned bucket’s versions; an unversioned one says so', async () => {
    const s3 = s3Client(server, alice)
    await s3.send(new CreateBucketCommand({ Bucket: 'alice-versions' }))
    await s3.send(
      new PutBucketVersioningCommand({ Bucket: 'alice-versions', VersioningConfiguration: { Status: 'Enabled' } }),
    )
    await s3.send(new PutObjectCommand({ Bucket: 'alice-versions', Key: 'doc', Body: 'one' }))
    await s3.send(new PutObjectCommand({ Bucket: 'alice-versions', Key: 'doc', Body: 'two' }))
    const a = await signIn(server, alice)
    const page = await send(server, 'GET', `${BASE}/b/alice-versions`, { headers: { cookie: a.cookie } })
    expect(page.body).toMatch(/Versioning<\/dt><dd>Enabled/)
    expect(page.body).toContain('Show all versions')
    const versions = await send(server, 'GET', `${BASE}/b/alice-versions?versions=1`, { headers: { cookie: a.cookie } })
    expect(versions.status).toBe(200)
    expect([...versions.body.matchAll(/>doc<\/a>/g)]).toHaveLength(2)
    expect(versions.body).toContain('(current)')
    const plain = await send(server, 'GET', `${BASE}/b/alice-private`, { headers: { cookie: a.cookie } })
    expect(plain.body).toMatch(/Versioning<\/dt><dd>never enabled/)
    expect(plain.body).toMatch(/Lifecycle<\/dt><dd>none/)
  })

  it('keys with spaces, plus, percent and UTF-8 open, download and delete; a full bucket is not deleted', async () => {
    const s3 = s3Client(server, alice)
    await s3.send(new CreateBucketCommand({ Bucket: 'alice-odd' }))
    const key = 'dir one/a b+c%41 é?.txt'
    await s3.send(new PutObjectCommand({ Bucket: 'alice-odd', Key: key, Body: 'odd bytes' }))
    const a = await signIn(server, alice)
    const q = new URLSearchParams({ key }).toString()
    const page = await send(server, 'GET', `${BASE}/b/alice-odd/object?${q}`, { headers: { cookie: a.cookie } })
    expect(page.status).toBe(200)
    expect(page.body).toContain('9 bytes')
    const dl = await send(server, 'GET', `${BASE}/b/alice-odd/download?${q}`, { headers: { cookie: a.cookie } })
    expect(dl.status).toBe(200)
    expect(dl.body).toBe('odd bytes')
    expect(dl.headers['content-disposition']).toMatch(/^attachment;/)
    expect(dl.headers['content-security-policy']).toMatch(/sandbox/)
    // No key: a clear refusal, not the bucket's headers.
    const none = await send(server, 'GET', `${BASE}/b/alice-odd/object?key=`, { headers: { cookie: a.cookie } })
    expect(none.status).toBe(400)
    // Deleting the bucket while it holds the object: S3's refusal, as a sentence with its code.
    const full = await send(server, 'POST', `${BASE}/b/alice-odd/delete`, {
      ...form({ _csrf: a.csrf }),
      headers: { ...form({}).headers, cookie: a.cookie },
    })
    expect(full.status).toBe(409)
    expect(full.body).toContain('BucketNotEmpty')
    const del = await send(server, 'POST', `${BASE}/b/alice-odd/object/delete`, {
      ...form({ _csrf: a.csrf, key }),
      headers: { ...form({}).headers, cookie: a.cookie },
    })
    expect(del.status).toBe(303)
    const empty = await send(server, 'POST', `${BASE}/b/alice-odd/delete`, {
      ...form({ _csrf: a.csrf }),
      headers: { ...form({}).headers, cookie: a.cookie },
    })
    expect(empty.status).toBe(303)
    const list = await send(server, 'GET', `${BASE}/`, { headers: { cookie: a.cookie } })
    expect(list.body).not.toContain('alice-odd')
  })

  it('uploads without the page script: a plain multipart form lands under its prefix', async () => {
    await s3Client(server, alice).send(new CreateBucketCommand({ Bucket: 'alice-forms' }))
    const a = await signIn(server, alice)
    const boundary = '----coffer-console-test'
    const part = (name: string, value: string, filename?: string) =>
      `--${boundary}\r\nContent-Disposition: form-data; name="${name}"${filename ? `; filename="${filename}"` : ''}\r\n` +
      `${filename ? 'Content-Type: text/plain\r\n' : ''}\r\n${value}\r\n`
    const body = `${part('_csrf', a.csrf)}${part('prefix', 'notes/')}${part('file', 'plain form bytes', 'hello.txt')}--${boundary}--\r\n`
    const r = await send(server, 'POST', `${BASE}/b/alice-forms/upload`, {
      headers: { 'content-type': `multipart/form-data; boundary=${boundary}`, cookie: a.cookie },
      body,
    })
    expect(r.status).toBe(303)
    const dl = await send(
      server,
      'GET',
      `${BASE}/b/alice-forms/download?key=${encodeURIComponent('notes/hello.txt')}`,
      {
        headers: { cookie: a.cookie },
      },
    )
    expect(dl.status).toBe(200)
    expect(dl.body).toBe('plain form bytes')
  })

  it('operator pages are for root only (403 for a tenant)', async () => {
    const a = await signIn(server, alice)
    const page = await send(server, 'GET', `${BASE}/admin`, { headers: { cookie: a.cookie } })
    expect(page.status).toBe(403)
    const create = await send(server, 'POST', `${BASE}/admin/namespaces`, {
      ...form({ name: 'by-tenant', _csrf: a.csrf }),
      headers: { ...form({}).headers, cookie: a.cookie },
    })
    expect(create.status).toBe(403)
    const root = await signIn(server, server)
    const ops = await send(server, 'GET', `${BASE}/admin`, { headers: { cookie: root.cookie } })
    expect(ops.status).toBe(200)
    expect(ops.body).toContain('Cluster health')
    expect(ops.body).toContain('drive-0')
    expect(ops.body).not.toContain('by-tenant')
  })

  it('root creates a namespace and a user (secret shown once, and it signs in), then deletes both', async () => {
    const root = await signIn(server, server)
    const post = (path: string, fields: Record<string, string>) =>
      send(server, 'POST', `${BASE}${path}`, {
        ...form({ ...fields, _csrf: root.csrf }),
        headers: { ...form({}).headers, cookie: root.cookie },
      })
    const ns = await post('/admin/namespaces', { name: 'ops-ns' })
    expect(ns.status).toBe(200)
    expect(ns.body).toContain('Namespace ops-ns created (encryption off)')
    const again = await post('/admin/namespaces', { name: 'ops-ns' })
    expect(again.status).toBe(400)
    expect(again.body).toContain('NamespaceAlreadyExists')
    const made = await post('/admin/users', { name: 'opsy', namespace: 'ops-ns', policy: 'readwrite' })
    expect(made.status).toBe(200)
    const accessKeyId = /id="new-access-key" readonly="" value="([^"]+)"/.exec(made.body)?.[1]
    const secretAccessKey = /id="new-secret" readonly="" value="([^"]+)"/.exec(made.body)?.[1]
    expect(accessKeyId).toBeDefined()
    expect(secretAccessKey).toBeDefined()
    const page = await send(server, 'GET', `${BASE}/admin`, { headers: { cookie: root.cookie } })
    expect(page.body).toContain(accessKeyId!)
    expect(page.body).not.toContain(secretAccessKey!)
    const opsy = await signIn(server, { accessKeyId: accessKeyId!, secretAccessKey: secretAccessKey! })
    expect((await send(server, 'GET', `${BASE}/`, { headers: { cookie: opsy.cookie } })).body).toContain('(ops-ns)')
    const gone = await post(`/admin/users/${accessKeyId}/delete`, {})
    expect(gone.status).toBe(200)
    // The deleted user's session ends with it.
    const after = await send(server, 'GET', `${BASE}/`, { headers: { cookie: opsy.cookie } })
    expect(after.status).toBe(303)
    const nsGone = await post('/admin/namespaces/ops-ns/delete', {})
    expect(nsGone.status).toBe(200)
    expect(nsGone.body).toContain('Namespace ops-ns deleted')
  })

  /** A form POST with the session's cookie and CSRF token. */
  const post = (session: Session, path: string, fields: Record<string, string>) =>
    send(server, 'POST', `${BASE}${path}`, {
      ...form({ ...fields, _csrf: session.csrf }),
      headers: { ...form({}).headers, cookie: session.cookie },
    })

  it('the health page charts the last hour of S3 requests, after requests were made', async () => {
    const s3 = s3Client(server, alice)
    await s3.send(new CreateBucketCommand({ Bucket: 'alice-charts' }))
    const body = Buffer.alloc(64 * 1024, 7)
    for (let i = 0; i < 5; i++)
      await s3.send(new PutObjectCommand({ Bucket: 'alice-charts', Key: `o${i}`, Body: body }))
    await (await s3.send(new GetObjectCommand({ Bucket: 'alice-charts', Key: 'o0' }))).Body!.transformToByteArray()
    await s3.send(new ListObjectsV2Command({ Bucket: 'alice-charts' }))
    const root = await signIn(server, server)
    const page = await send(server, 'GET', `${BASE}/admin`, { headers: { cookie: root.cookie } })
    expect(page.status).toBe(200)
    const total = Number(/<span id="requests-last-hour">(\d+)<\/span>/.exec(page.body)?.[1])
    expect(total).toBeGreaterThanOrEqual(8)
    // Each chart is an SVG image with a text summary; the peaks are the requests just made.
    for (const id of ['chart-rate', 'chart-throughput', 'chart-latency']) expect(page.body).toContain(`id="${id}"`)
    const peak = (label: string) => new RegExp(`${label}: latest [^,]+, peak ([^;<]+)`).exec(page.body)?.[1]
    expect(peak('requests')).not.toBe('0/s')
    expect(peak('in')).toMatch(/KiB\/s|MiB\/s/)
    expect(peak('out')).not.toBe('0 B/s')
    expect(peak('p50')).toMatch(/ms|s$/)
    expect(page.body).toMatch(/<g class="line s0" data-series="requests"><polyline points="[\d., ]+"/)
    expect(page.body).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>|<style|\sstyle=/)
    // /_coffer/metrics stays the Prometheus source: the same requests as counters.
    const metrics = await send(server, 'GET', '/_coffer/metrics')
    expect(Number(/^coffer_s3_requests_total (\d+)$/m.exec(metrics.body)?.[1])).toBeGreaterThanOrEqual(total)
    expect(Number(/^coffer_s3_received_bytes_total (\d+)$/m.exec(metrics.body)?.[1])).toBeGreaterThanOrEqual(
      5 * body.length,
    )
  })

  it('the bucket policy editor refuses a malformed policy with MalformedPolicy, keeps the text, saves a good one', async () => {
    // Root's own bucket (a readwrite tenant may not set bucket policies; its page says so).
    await s3Client(server, server).send(new CreateBucketCommand({ Bucket: 'root-policy' }))
    const a = await signIn(server, server)
    const bad = '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow"'
    const refused = await post(a, '/b/root-policy/policy', { policy: bad })
    expect(refused.status).toBe(400)
    expect(refused.body).toContain('MalformedPolicy')
    expect(refused.body).toMatch(/<p class="error" role="alert">[^<]+ <code>\(MalformedPolicy\)<\/code>/)
    // The operator's text stays in the editor (escaped), and nothing was set.
    expect(refused.body).toContain('&quot;Effect&quot;: &quot;Allow&quot;')
    const state = await send(server, 'GET', `${BASE}/b/root-policy`, { headers: { cookie: a.cookie } })
    expect(state.body).toMatch(/Bucket policy<\/dt><dd>none/)
    const good = JSON.stringify({
      Version: '2012-10-17',
      Statement: [
        {
          Sid: 'DenyDeletes',
          Effect: 'Deny',
          Principal: '*',
          Action: 's3:DeleteObject',
          Resource: 'arn:aws:s3:::root-policy/*',
        },
      ],
    })
    const saved = await post(a, '/b/root-policy/policy', { policy: good })
    expect(saved.status).toBe(200)
    expect(saved.body).toContain('The bucket policy was saved.')
    const editor = await send(server, 'GET', `${BASE}/b/root-policy/policy`, { headers: { cookie: a.cookie } })
    expect(editor.body).toContain('DenyDeletes')
    expect((await send(server, 'GET', `${BASE}/b/root-policy`, { headers: { cookie: a.cookie } })).body).toMatch(
      /Bucket policy<\/dt><dd>set/,
    )
    // Emptied: removed.
    const removed = await post(a, '/b/root-policy/policy', { policy: '' })
    expect(removed.body).toContain('The bucket policy was removed.')
    // Another tenant cannot open it.
    const b = await signIn(server, bob)
    const other = await send(server, 'GET', `${BASE}/b/root-policy/policy`, { headers: { cookie: b.cookie } })
    expect(other.status).toBe(403)
    // A readwrite tenant's own bucket: S3 refuses it the policy, and the page says so with the code.
    const tenantPage = await post(await signIn(server, alice), '/b/alice-private/policy', { policy: good })
    expect(tenantPage.status).toBe(403)
    expect(tenantPage.body).toContain('(AccessDenied)')
  })

  it('the CORS editor refuses a malformed configuration with its S3 code, saves one that browsers then meet, removes it', async () => {
    await s3Client(server, server).send(new CreateBucketCommand({ Bucket: 'root-cors' }))
    const a = await signIn(server, server)
    const page = (path: string) => send(server, 'GET', `${BASE}${path}`, { headers: { cookie: a.cookie } })
    const preflight = () =>
      send(server, 'OPTIONS', '/root-cors/upload.bin', {
        headers: { origin: 'https://app.example.com', 'access-control-request-method': 'PUT' },
      })
    // None yet: the bucket page says so, the editor offers an example, and a browser is refused.
    expect((await page('/b/root-cors')).body).toMatch(/CORS<\/dt><dd>none/)
    const empty = await page('/b/root-cors/cors')
    expect(empty.status).toBe(200)
    expect(empty.body).toContain('no CORS configuration')
    expect(empty.body).toContain('&lt;AllowedOrigin&gt;https://app.example.com&lt;/AllowedOrigin&gt;')
    expect((await preflight()).status).toBe(403)
    // A rule without a method: S3's MalformedXML, the text kept in the editor, nothing set.
    const bad =
      '<CORSConfiguration><CORSRule><AllowedOrigin>https://app.example.com</AllowedOrigin></CORSRule></CORSConfiguration>'
    const refused = await post(a, '/b/root-cors/cors', { cors: bad })
    expect(refused.status).toBe(400)
    expect(refused.body).toMatch(/<p class="error" role="alert">[^<]+ <code>\(MalformedXML\)<\/code>/)
    expect(refused.body).toContain('&lt;CORSRule&gt;&lt;AllowedOrigin&gt;')
    expect((await page('/b/root-cors')).body).toMatch(/CORS<\/dt><dd>none/)
    // The example as offered: saved, listed, and what a browser's preflight now meets.
    const saved = await post(a, '/b/root-cors/cors', { cors: CORS_EXAMPLE })
    expect(saved.status).toBe(200)
    expect(saved.body).toContain('The CORS configuration was saved.')
    expect((await page('/b/root-cors')).body).toMatch(/CORS<\/dt><dd>1 rule/)
    // S3 returns it on one line; the editor shows it indented, element by element.
    expect((await page('/b/root-cors/cors')).body).toContain(
      '&lt;CORSConfiguration&gt;\n  &lt;CORSRule&gt;\n    &lt;AllowedHeader&gt;*&lt;/AllowedHeader&gt;',
    )
    const allowed = await preflight()
    expect(allowed.status).toBe(200)
    expect(allowed.headers['access-control-allow-origin']).toBe('https://app.example.com')
    expect(allowed.headers['access-control-allow-methods']).toBe('GET, PUT')
    // Emptied: removed, and the browser is refused again.
    const removed = await post(a, '/b/root-cors/cors', { cors: '' })
    expect(removed.body).toContain('The CORS configuration was removed.')
    expect((await page('/b/root-cors')).body).toMatch(/CORS<\/dt><dd>none/)
    expect((await preflight()).status).toBe(403)
    // Another tenant cannot open it.
    const other = await send(server, 'GET', `${BASE}/b/root-cors/cors`, {
      headers: { cookie: (await signIn(server, bob)).cookie },
    })
    expect(other.status).toBe(403)
  })

  it('a lifecycle rule added in the console round-trips through S3, beside a richer rule set by a client', async () => {
    const s3 = s3Client(server, alice)
    await s3.send(new CreateBucketCommand({ Bucket: 'alice-lifecycle' }))
    const a = await signIn(server, alice)
    const empty = await send(server, 'GET', `${BASE}/b/alice-lifecycle/lifecycle`, { headers: { cookie: a.cookie } })
    expect(empty.status).toBe(200)
    expect(empty.body).toContain('No lifecycle rules')
    await s3.send(
      new PutBucketLifecycleConfigurationCommand({
        Bucket: 'alice-lifecycle',
        LifecycleConfiguration: {
          Rules: [
            {
              ID: 'uploads',
              Status: 'Enabled',
              Filter: { And: { Prefix: 'tmp/', Tags: [{ Key: 'kind', Value: 'scratch' }] } },
              Expiration: { Days: 3 },
            },
          ],
        },
      }),
    )
    const added = await post(a, '/b/alice-lifecycle/lifecycle', { id: 'old-logs', prefix: 'logs/', days: '7' })
    expect(added.status).toBe(200)
    expect(added.body).toContain('Rule old-logs added.')
    expect(added.body).toContain('expire current versions after 7 days')
    expect(added.body).toContain('tag kind=scratch')
    const both = await s3.send(new GetBucketLifecycleConfigurationCommand({ Bucket: 'alice-lifecycle' }))
    expect(both.Rules?.map((r) => r.ID)).toEqual(['uploads', 'old-logs'])
    const kept = both.Rules![0]!
    expect(kept.Filter?.And?.Tags).toEqual([{ Key: 'kind', Value: 'scratch' }])
    expect(kept.Expiration?.Days).toBe(3)
    expect(both.Rules![1]).toMatchObject({ Filter: { Prefix: 'logs/' }, Expiration: { Days: 7 }, Status: 'Enabled' })
    // Bad input: a clear refusal, nothing written.
    const zero = await post(a, '/b/alice-lifecycle/lifecycle', { id: 'x', prefix: '', days: '0' })
    expect(zero.status).toBe(400)
    expect(zero.body).toContain('InvalidArgument')
    const dup = await post(a, '/b/alice-lifecycle/lifecycle', { id: 'old-logs', prefix: 'x/', days: '3' })
    expect(dup.status).toBe(400)
    const none = await post(a, '/b/alice-lifecycle/lifecycle', { id: 'y', prefix: '', days: '', noncurrentDays: '' })
    expect(none.status).toBe(400)
    expect(none.body).toContain('Give at least one number of days')
    // Noncurrent versions and unfinished uploads, without expiring current versions: S3 stores
    // exactly those two actions.
    const versions = await post(a, '/b/alice-lifecycle/lifecycle', {
      id: 'old-versions',
      prefix: '',
      days: '',
      noncurrentDays: '30',
      abortDays: '1',
    })
    expect(versions.status).toBe(200)
    expect(versions.body).toContain('expire noncurrent versions after 30 days; abort incomplete uploads after 1 day<')
    const three = await s3.send(new GetBucketLifecycleConfigurationCommand({ Bucket: 'alice-lifecycle' }))
    const added3 = three.Rules?.find((r) => r.ID === 'old-versions')
    expect(added3).toMatchObject({
      NoncurrentVersionExpiration: { NoncurrentDays: 30 },
      AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 },
    })
    expect(added3?.Expiration).toBeUndefined()
    await post(a, '/b/alice-lifecycle/lifecycle/delete', { id: 'old-versions' })
    const bucketPage = await send(server, 'GET', `${BASE}/b/alice-lifecycle`, { headers: { cookie: a.cookie } })
    expect(bucketPage.body).toMatch(/Lifecycle<\/dt><dd>2 rules/)
    // Removing the console's rule leaves the other whole; removing the last deletes the configuration.
    const gone = await post(a, '/b/alice-lifecycle/lifecycle/delete', { id: 'old-logs' })
    expect(gone.body).toContain('Rule old-logs removed.')
    const left = await s3.send(new GetBucketLifecycleConfigurationCommand({ Bucket: 'alice-lifecycle' }))
    expect(left.Rules?.map((r) => r.ID)).toEqual(['uploads'])
    expect(left.Rules![0]!.Filter?.And?.Prefix).toBe('tmp/')
    await post(a, '/b/alice-lifecycle/lifecycle/delete', { id: 'uploads' })
    await expect(
      s3.send(new GetBucketLifecycleConfigurationCommand({ Bucket: 'alice-lifecycle' })),
    ).rejects.toMatchObject({ name: 'NoSuchLifecycleConfiguration' })
  })

  it('versioning is turned on from the bucket page', async () => {
    await s3Client(server, alice).send(new CreateBucketCommand({ Bucket: 'alice-turn-on' }))
    const a = await signIn(server, alice)
    const before = await send(server, 'GET', `${BASE}/b/alice-turn-on`, { headers: { cookie: a.cookie } })
    expect(before.body).toContain('Enable versioning')
    const on = await post(a, '/b/alice-turn-on/versioning', { status: 'Enabled' })
    expect(on.status).toBe(303)
    const after = await send(server, 'GET', `${BASE}/b/alice-turn-on`, { headers: { cookie: a.cookie } })
    expect(after.body).toMatch(/Versioning<\/dt><dd>Enabled/)
    expect(after.body).toContain('Suspend versioning')
  })

  it('a tenant cannot reach the user-policy or master-key pages (403); CSRF-less posts to them are refused', async () => {
    const a = await signIn(server, alice)
    const userPage = await send(server, 'GET', `${BASE}/admin/users/${bob.accessKeyId}`, {
      headers: { cookie: a.cookie },
    })
    expect(userPage.status).toBe(403)
    const attach = await post(a, `/admin/users/${alice.accessKeyId}/policy`, { builtin: 'admin', document: '' })
    expect(attach.status).toBe(403)
    const rotate = await post(a, '/admin/keys/master/rotate', {})
    expect(rotate.status).toBe(403)
    // Root without the token: refused before anything runs.
    const root = await signIn(server, server)
    const noToken = await send(server, 'POST', `${BASE}/admin/keys/master/rotate`, {
      ...form({}),
      headers: { ...form({}).headers, cookie: root.cookie },
    })
    expect(noToken.status).toBe(403)
    expect(JSON.parse(noToken.body)).toMatchObject({ error: 'InvalidCsrfToken' })
    const policyNoToken = await send(server, 'POST', `${BASE}/b/alice-private/policy`, {
      ...form({ policy: '' }),
      headers: { ...form({}).headers, cookie: a.cookie },
    })
    expect(policyNoToken.status).toBe(403)
    const lifecycleNoToken = await send(server, 'POST', `${BASE}/b/alice-private/lifecycle`, {
      ...form({ days: '1' }),
      headers: { ...form({}).headers, cookie: a.cookie },
    })
    expect(lifecycleNoToken.status).toBe(403)
  })

  it('root attaches a built-in and a custom policy to a user; a malformed one is refused and changes nothing', async () => {
    const dave = await tenant(server, 'dave', 'off')
    const root = await signIn(server, server)
    const page = await send(server, 'GET', `${BASE}/admin/users/${dave.accessKeyId}`, {
      headers: { cookie: root.cookie },
    })
    expect(page.status).toBe(200)
    const path = `/admin/users/${dave.accessKeyId}/policy`
    const readonly = await post(root, path, { builtin: 'readonly', document: '' })
    expect(readonly.status).toBe(200)
    expect(readonly.body).toMatch(/id="current-builtin">readonly</)
    expect(readonly.body).toMatch(/id="current-document">none</)
    // Read-only now: dave's own bucket creation is refused by S3.
    await expect(s3Client(server, dave).send(new CreateBucketCommand({ Bucket: 'dave-ro' }))).rejects.toMatchObject({
      name: 'AccessDenied',
    })
    const bad = await post(root, path, { builtin: '', document: '{"Version":"2012-10-17","Statement":[{}]}' })
    expect(bad.status).toBe(400)
    expect(bad.body).toContain('(MalformedPolicy)')
    expect(bad.body).toMatch(/id="current-builtin">readonly</)
    const own = JSON.stringify({
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Action: ['s3:CreateBucket', 's3:ListAllMyBuckets'], Resource: '*' }],
    })
    const custom = await post(root, path, { builtin: '', document: own })
    expect(custom.status).toBe(200)
    expect(custom.body).toMatch(/id="current-builtin">none</)
    expect(custom.body).toMatch(/id="current-document">set</)
    await s3Client(server, dave).send(new CreateBucketCommand({ Bucket: 'dave-own' }))
    const none = await post(root, `${path}/delete`, {})
    expect(none.body).toMatch(/id="current-document">none</)
    const unknown = await send(server, 'GET', `${BASE}/admin/users/AKNOSUCHUSER`, { headers: { cookie: root.cookie } })
    expect(unknown.status).toBe(404)
  })

  it('root rotates the master key from the console (with confirmation); users and data carry on', async () => {
    const root = await signIn(server, server)
    const page = await send(server, 'GET', `${BASE}/admin`, { headers: { cookie: root.cookie } })
    expect(page.body).toMatch(
      /action="\/_coffer\/console\/admin\/keys\/master\/rotate"[^>]* data-confirm="Rotate the master key/,
    )
    const r = await post(root, '/admin/keys/master/rotate', {})
    expect(r.status).toBe(200)
    expect(r.body).toMatch(/The master key was rotated: \d+ namespace keys re-wrapped/)
    // Alice's secret was re-sealed and her encrypted object's key re-wrapped: both still work.
    const got = await s3Client(server, alice).send(new GetObjectCommand({ Bucket: 'alice-private', Key: 'secret.txt' }))
    expect(await got.Body!.transformToString()).toBe('alice only')
    await signIn(server, alice)
  })

  it('sign-out ends the session on the server: the old cookie no longer works', async () => {
    const a = await signIn(server, alice)
    const out = await send(server, 'POST', `${BASE}/logout`, {
      ...form({ _csrf: a.csrf }),
      headers: { ...form({}).headers, cookie: a.cookie },
    })
    expect(out.status).toBe(303)
    expect(String(([] as string[]).concat(out.headers['set-cookie'] ?? [])[0])).toMatch(/Max-Age=0/)
    const again = await send(server, 'GET', `${BASE}/`, { headers: { cookie: a.cookie } })
    expect(again.status).toBe(303)
    expect(again.headers.location).toBe(`${BASE}/login`)
  })

  it('a wrong secret is refused; repeated failures are rate limited, even with the right secret', async () => {
    const user = await tenant(server, 'carol', 'off')
    const wrong = form({ accessKeyId: user.accessKeyId, secretAccessKey: 'not-the-secret' })
    const first = await send(server, 'POST', `${BASE}/login`, wrong)
    expect(first.status).toBe(401)
    expect(first.headers['set-cookie']).toBeUndefined()
    expect(first.body).toContain('InvalidAccessKeyId')
    let limited: Res | undefined
    for (let i = 0; i < 10 && !limited; i++) {
      const r = await send(server, 'POST', `${BASE}/login`, wrong)
      if (r.status === 429) limited = r
      else expect(r.status).toBe(401)
    }
    expect(limited?.status).toBe(429)
    expect(Number(limited?.headers['retry-after'])).toBeGreaterThan(0)
    const right = await send(
      server,
      'POST',
      `${BASE}/login`,
      form({ accessKeyId: user.accessKeyId, secretAccessKey: user.secretAccessKey }),
    )
    expect(right.status).toBe(429)
    expect(right.headers['set-cookie']).toBeUndefined()
  })
})

describe('failed console sign-ins are counted in the metadata', () => {
  let server: TestServer | undefined
  let dataDir: string
  const root = randomCredentials()
  const env = { COFFER_ROOT_ACCESS_KEY: root.accessKeyId, COFFER_ROOT_SECRET_KEY: root.secretAccessKey }
  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'coffer-console-limit-'))
  })
  afterAll(async () => {
    await server?.stop()
    await rm(dataDir, { recursive: true, force: true })
  })

  it('a gateway started afterwards on the same metadata still refuses the locked-out key', async () => {
    server = await startServer({ dataDir, env })
    const user = await tenant(server, 'frank', 'off')
    const wrong = form({ accessKeyId: user.accessKeyId, secretAccessKey: 'not-the-secret' })
    let limited = false
    for (let i = 0; i < 10 && !limited; i++)
      limited = (await send(server, 'POST', `${BASE}/login`, wrong)).status === 429
    expect(limited).toBe(true)
    await server.stop()
    server = undefined
    // A fresh gateway: nothing in its memory, the count is in the shared metadata.
    server = await startServer({ dataDir, env })
    const right = form({ accessKeyId: user.accessKeyId, secretAccessKey: user.secretAccessKey })
    const r = await send(server, 'POST', `${BASE}/login`, right)
    expect(r.status).toBe(429)
    expect(r.headers['set-cookie']).toBeUndefined()
    expect(Number(r.headers['retry-after'])).toBeGreaterThan(0)
  })
})
