/**
 * A real browser (Debian `chromium`, driven by npm `playwright-core`) on a page served from another
 * origin by this test (plain http on 127.0.0.1, a secure context) uploads and downloads through
 * Coffer with presigned URLs: the browser's own CORS checks — preflight for the PUT, the
 * Access-Control-* of the answers — decide, as they would for a web application. An origin the
 * bucket's rules do not list is refused by the browser. The page also runs the real AWS SDK v3
 * for JavaScript (bundled for the browser by esbuild at test time: test/helpers/page-s3-sdk.ts),
 * whose signed PutObject needs a preflight (Chromium's own, seen through the DevTools protocol),
 * and submits an HTML form upload (POST Object) with a policy signed by the test. Every object is
 * checked byte for byte. Screenshots go to test-results/browser/.
 *
 * Trust: Chromium is started with `--ignore-certificate-errors-spki-list` naming the SPKI hash of
 * this test server's own certificate, so exactly that key is accepted and every other certificate
 * is still checked (a test CA in a throwaway NSS database would do the same with more moving parts).
 */
import { createHash, createHmac, randomBytes, X509Certificate } from 'node:crypto'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { CreateBucketCommand, GetObjectCommand, PutBucketCorsCommand, PutObjectCommand } from '@aws-sdk/client-s3'
import { getSignedUrl } from '@aws-sdk/s3-request-presigner'
import { type Browser, chromium } from 'playwright-core'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { browserBundle } from '../helpers/browser-bundle.ts'
import { describeWithClient } from '../helpers/clients.ts'
import type { SdkResult, SdkRun } from '../helpers/page-s3-sdk.ts'
import { amzDate, signingKey } from '../helpers/raw.ts'
import { s3Client } from '../helpers/s3-client.ts'
import { REPO_ROOT, startServer, type TestServer } from '../helpers/server.ts'

const OUTPUT = join(REPO_ROOT, 'test-results', 'browser')

type Run = (...args: string[]) => Promise<unknown>
type RunSdk = (r: SdkRun) => Promise<SdkResult>

/** The page: runs `window.run(putUrl, getUrl, body)` and shows each step in the document. */
const PAGE = `<!doctype html><html><head><meta charset="utf-8"><title>Coffer CORS</title></head>
<body><h1>Coffer from another origin</h1><pre id="log"></pre><script>
const log = (s) => { document.getElementById('log').textContent += s + '\\n' }
window.run = async (putUrl, getUrl, body) => {
  try {
    const put = await fetch(putUrl, { method: 'PUT', body, headers: { 'content-type': 'text/plain' } })
    log('PUT ' + put.status + ' etag ' + put.headers.get('etag'))
    const get = await fetch(getUrl)
    const text = await get.text()
    log('GET ' + get.status + ' ' + text.length + ' bytes')
    return { put: put.status, etag: put.headers.get('etag'), get: get.status, text }
  } catch (e) {
    log('refused: ' + e)
    return { error: String(e) }
  }
}
</script></body></html>`

/** The page for the AWS SDK: the bundle from `/sdk.js` defines `window.runSdk` (test/helpers/page-s3-sdk.ts). */
const SDK_PAGE = `<!doctype html><html><head><meta charset="utf-8"><title>Coffer with the AWS SDK</title></head>
<body><h1>AWS SDK for JavaScript v3 in the page</h1><pre id="log"></pre><script src="/sdk.js"></script></body></html>`

/**
 * A static server for the pages on 127.0.0.1 (a secure context over plain http): `/form` serves
 * `form()`, `/sdk` the SDK page and `/sdk.js` its bundle, anything else PAGE.
 */
async function pageServer(form: () => string = () => '', sdk = ''): Promise<{ server: Server; origin: string }> {
  const server = createServer((req, res) => {
    const url = req.url ?? '/'
    if (url === '/sdk.js') {
      res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8' })
      res.end(sdk)
      return
    }
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' })
    res.end(url.startsWith('/form') ? form() : url === '/sdk' ? SDK_PAGE : PAGE)
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  return { server, origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}` }
}

describeWithClient('chromium', 'a browser on another origin, through CORS', (bin) => {
  let coffer: TestServer
  let allowed: { server: Server; origin: string }
  let stranger: { server: Server; origin: string }
  let browser: Browser
  let formPage = ''
  beforeAll(async () => {
    coffer = await startServer()
    const sdk = await browserBundle('page-s3-sdk.ts')
    allowed = await pageServer(() => formPage, sdk)
    stranger = await pageServer(undefined, sdk)
    const s3 = s3Client(coffer)
    await s3.send(new CreateBucketCommand({ Bucket: 'site' }))
    // The SDK signs: its requests carry authorization, x-amz-* and checksum headers, all allowed here.
    await s3.send(new CreateBucketCommand({ Bucket: 'app' }))
    await s3.send(
      new PutBucketCorsCommand({
        Bucket: 'app',
        CORSConfiguration: {
          CORSRules: [
            {
              AllowedOrigins: [allowed.origin],
              AllowedMethods: ['GET', 'PUT'],
              AllowedHeaders: ['*'],
              ExposeHeaders: ['ETag', 'x-amz-checksum-crc32'],
            },
          ],
        },
      }),
    )
    await s3.send(
      new PutBucketCorsCommand({
        Bucket: 'site',
        CORSConfiguration: {
          CORSRules: [
            {
              AllowedOrigins: [allowed.origin],
              AllowedMethods: ['GET', 'PUT'],
              AllowedHeaders: ['content-type'],
              ExposeHeaders: ['ETag'],
            },
          ],
        },
      }),
    )
    const cert = new X509Certificate(await readFile(join(coffer.dataDir, 'tls', 'server.pem')))
    const spki = createHash('sha256')
      .update(cert.publicKey.export({ type: 'spki', format: 'der' }))
      .digest('base64')
    browser = await chromium.launch({
      executablePath: bin,
      args: [`--ignore-certificate-errors-spki-list=${spki}`],
      timeout: 60_000,
    })
    await mkdir(OUTPUT, { recursive: true })
  }, 120_000)
  afterAll(async () => {
    await browser?.close()
    allowed?.server.close()
    stranger?.server.close()
    await coffer?.stop()
  })

  async function presigned(key: string) {
    const s3 = s3Client(coffer)
    const put = await getSignedUrl(s3, new PutObjectCommand({ Bucket: 'site', Key: key, ContentType: 'text/plain' }))
    const get = await getSignedUrl(s3, new GetObjectCommand({ Bucket: 'site', Key: key }))
    return { put, get }
  }

  it('a listed origin PUTs (after a preflight) and GETs through presigned URLs; bytes arrive intact', async () => {
    const page = await browser.newPage()
    try {
      await page.goto(allowed.origin)
      const { put, get } = await presigned('from-browser.txt')
      const body = `written by chromium ${'é'.repeat(1000)} ${Date.now()}`
      const r = await page.evaluate(([p, g, b]) => (window as unknown as { run: Run }).run(p, g, b), [put, get, body])
      await page.screenshot({ path: join(OUTPUT, 'cors-allowed.png') })
      expect(r).toMatchObject({ put: 200, get: 200, text: body })
      expect((r as { etag: string }).etag).toMatch(/^"[0-9a-f]{32}"$/) // exposed by ExposeHeaders
      const stored = await s3Client(coffer).send(new GetObjectCommand({ Bucket: 'site', Key: 'from-browser.txt' }))
      expect(await stored.Body!.transformToString()).toBe(body)
    } finally {
      await page.close()
    }
  })

  it('an origin the rules do not list is refused by the browser, and nothing is stored', async () => {
    const page = await browser.newPage()
    try {
      await page.goto(stranger.origin)
      const { put, get } = await presigned('from-stranger.txt')
      const r = await page.evaluate(([p, g]) => (window as unknown as { run: Run }).run(p, g, 'x'), [put, get])
      await page.screenshot({ path: join(OUTPUT, 'cors-refused.png') })
      expect((r as { error?: string }).error).toMatch(/Failed to fetch/)
      const head = await s3Client(coffer)
        .send(new GetObjectCommand({ Bucket: 'site', Key: 'from-stranger.txt' }))
        .then(
          () => 'stored',
          (e: { name: string }) => e.name,
        )
      expect(head).toBe('NoSuchKey')
    } finally {
      await page.close()
    }
  })

  /** Runs the SDK page on `origin`; the answers Chromium got from Coffer (preflights included), in order. */
  async function sdkRun(origin: string, key: string, body: Buffer, shot: string) {
    const page = await browser.newPage()
    const seen: { method: string; status: number; url: string; id: string }[] = []
    const methods = new Map<string, string>()
    try {
      // Preflights are Chromium's own requests, invisible to page events: the DevTools protocol reports them.
      // `id` is the id of the request an answer belongs to (a preflight's is the request it clears).
      const cdp = await page.context().newCDPSession(page)
      // A preflight has an id of its own; its initiator names the request it clears.
      const cleared = new Map<string, string>()
      cdp.on('Network.requestWillBeSent', (e) => {
        if (e.initiator.type === 'preflight' && e.initiator.requestId) cleared.set(e.requestId, e.initiator.requestId)
        else methods.set(e.requestId, e.request.method)
      })
      // An answer, not an attempt: a request the browser held back after its preflight has none.
      cdp.on('Network.responseReceived', (e) => {
        const method = e.type === 'Preflight' ? 'OPTIONS' : (methods.get(e.requestId) ?? '?')
        if (e.response.url.startsWith(coffer.endpoint))
          seen.push({
            method,
            status: e.response.status,
            url: e.response.url,
            id: cleared.get(e.requestId) ?? e.requestId,
          })
      })
      await cdp.send('Network.enable')
      await page.goto(`${origin}/sdk`)
      const run: SdkRun = {
        endpoint: coffer.endpoint,
        region: coffer.region,
        accessKeyId: coffer.accessKeyId,
        secretAccessKey: coffer.secretAccessKey,
        bucket: 'app',
        key,
        body: body.toString('base64'),
      }
      const r = await page.evaluate((x) => (window as unknown as { runSdk: RunSdk }).runSdk(x), run)
      await page.screenshot({ path: join(OUTPUT, shot) })
      return { r, seen }
    } finally {
      await page.close()
    }
  }

  it('the AWS SDK in the page PutObjects (after a preflight) and GetObjects; bytes arrive intact', async () => {
    const body = Buffer.concat([randomBytes(256 * 1024 + 7), Buffer.from('é — written by the SDK in chromium')])
    const { r, seen } = await sdkRun(allowed.origin, 'sdk/object.bin', body, 'sdk-allowed.png')
    expect(r).toMatchObject({ put: 200, get: 200, contentType: 'application/octet-stream' })
    const back = Buffer.from((r as { body: string }).body, 'base64')
    expect(back.equals(body)).toBe(true)
    expect((r as { etag: string }).etag).toBe(`"${createHash('md5').update(body).digest('hex')}"`)
    // The signed PUT was preflighted (the GET too: its authorization header is not CORS-safelisted).
    // Checked per request id, not by event order: DevTools once reported the GET's preflight before
    // the PUT's answer (a 256 KiB upload), which is delivery order, not what the browser sent.
    const answers = (method: string) => {
      const request = seen.filter((s) => s.method === method)
      expect(
        request.map((s) => s.status),
        `${method} in ${JSON.stringify(seen)}`,
      ).toEqual([200])
      return seen.filter((s) => s.id === request[0]!.id).map((s) => `${s.method} ${s.status}`)
    }
    expect(answers('PUT')).toEqual(['OPTIONS 200', 'PUT 200'])
    expect(answers('GET')).toEqual(['OPTIONS 200', 'GET 200'])
    expect(seen[0]!.url).toContain('/app/sdk/object.bin')
    const stored = await s3Client(coffer).send(new GetObjectCommand({ Bucket: 'app', Key: 'sdk/object.bin' }))
    expect(Buffer.from(await stored.Body!.transformToByteArray()).equals(body)).toBe(true)
  })

  it('the AWS SDK on an origin the rules do not list fails in the browser, and nothing is stored', async () => {
    const { r, seen } = await sdkRun(stranger.origin, 'sdk/stranger.bin', Buffer.from('no'), 'sdk-refused.png')
    expect((r as { error?: string }).error).toMatch(/Failed to fetch/)
    // Refused at the preflight (403 CORSResponse): the PUT itself was never answered.
    expect(seen.map((s) => `${s.method} ${s.status}`)).toEqual(['OPTIONS 403'])
    const stored = await s3Client(coffer)
      .send(new GetObjectCommand({ Bucket: 'app', Key: 'sdk/stranger.bin' }))
      .then(
        () => 'stored',
        (e: { name: string }) => e.name,
      )
    expect(stored).toBe('NoSuchKey')
  })

  it('an HTML form upload (POST Object) with a policy signed by the test lands byte for byte', async () => {
    const now = new Date()
    const day = amzDate(now).slice(0, 8)
    const credential = `${coffer.accessKeyId}/${day}/${coffer.region}/s3/aws4_request`
    const done = `${allowed.origin}/done`
    const policy = Buffer.from(
      JSON.stringify({
        expiration: new Date(now.getTime() + 10 * 60_000).toISOString(),
        conditions: [
          { bucket: 'site' },
          ['starts-with', '$key', 'forms/'],
          { success_action_redirect: done },
          ['starts-with', '$Content-Type', 'application/'],
          { 'x-amz-algorithm': 'AWS4-HMAC-SHA256' },
          { 'x-amz-credential': credential },
          { 'x-amz-date': amzDate(now) },
          ['content-length-range', 1, 10 * 1024 * 1024],
        ],
      }),
    ).toString('base64')
    const signature = createHmac('sha256', signingKey(coffer.secretAccessKey, day, coffer.region))
      .update(policy)
      .digest('hex')
    // biome-ignore lint/suspicious/noTemplateCurlyInString: S3's literal ${filename} form variable
    const keyField = 'forms/${filename}'
    const hidden = (name: string, value: string) => `<input type="hidden" name="${name}" value="${value}">`
    formPage = `<!doctype html><html><body><h1>Form upload to Coffer</h1>
<form action="${coffer.endpoint}/site" method="post" enctype="multipart/form-data">
${hidden('key', keyField)}${hidden('success_action_redirect', done)}
${hidden('Content-Type', 'application/octet-stream')}${hidden('x-amz-algorithm', 'AWS4-HMAC-SHA256')}
${hidden('x-amz-credential', credential)}${hidden('x-amz-date', amzDate(now))}
${hidden('policy', policy)}${hidden('x-amz-signature', signature)}
<input type="file" name="file"><button type="submit">Upload</button></form></body></html>`
    const bytes = randomBytes(1024 * 1024 + 3)
    const upload = join(OUTPUT, 'upload.bin') // kept beside the screenshots: the file the form sent
    await writeFile(upload, bytes)
    const page = await browser.newPage()
    try {
      await page.goto(`${allowed.origin}/form`)
      await page.setInputFiles('input[type=file]', upload)
      await page.screenshot({ path: join(OUTPUT, 'form-before.png') })
      await Promise.all([page.waitForURL(/\/done\?/, { timeout: 30_000 }), page.click('button')])
      const landed = new URL(page.url())
      expect(landed.searchParams.get('bucket')).toBe('site')
      expect(landed.searchParams.get('key')).toBe('forms/upload.bin')
      expect(landed.searchParams.get('etag')).toBe(`"${createHash('md5').update(bytes).digest('hex')}"`)
      await page.screenshot({ path: join(OUTPUT, 'form-after.png') })
    } finally {
      await page.close()
    }
    const stored = await s3Client(coffer).send(new GetObjectCommand({ Bucket: 'site', Key: 'forms/upload.bin' }))
    expect(Buffer.from(await stored.Body!.transformToByteArray()).equals(bytes)).toBe(true)
    expect(stored.ContentType).toBe('application/octet-stream')
  })
})
