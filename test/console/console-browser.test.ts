/**
 * The web console in a real browser (Debian `chromium`, driven by npm `playwright-core`) against
 * a real server over TLS: sign in with a tenant's S3 credentials, create a bucket, upload a
 * 20 MiB file with the page's own upload control (a multipart upload with a progress bar), browse
 * into its prefix, download it and compare bytes, make a share link and fetch it outside the
 * browser, sign out — after which the old session no longer works. The operator page is
 * visited as root. Screenshots of each page go to test-results/console/.
 *
 * Trust: as in test/browser/cors.test.ts, Chromium accepts exactly this server's key
 * (`--ignore-certificate-errors-spki-list`); every other certificate is still checked.
 */
import { createHash, randomBytes, X509Certificate } from 'node:crypto'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { request } from 'node:https'
import { join } from 'node:path'
import { ListMultipartUploadsCommand, ListObjectsV2Command } from '@aws-sdk/client-s3'
import { type Browser, chromium, type Page, type Route } from 'playwright-core'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { type Credentials, tenant } from '../helpers/admin.ts'
import { describeWithClient } from '../helpers/clients.ts'
import { s3Client } from '../helpers/s3-client.ts'
import { printServerLogOnFailure } from '../helpers/server-log.ts'
import { REPO_ROOT, startServer, type TestServer } from '../helpers/server.ts'

const OUTPUT = join(REPO_ROOT, 'test-results', 'console')
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex')

/** GET an absolute https URL of the test server trusting its CA; the body as bytes. */
function fetchBytes(server: TestServer, url: string): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { ca: server.caPem, agent: false, timeout: 30_000 }, (res) => {
      const chunks: Buffer[] = []
      res
        .on('data', (c: Buffer) => chunks.push(c))
        .on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }))
    })
    req.on('timeout', () => req.destroy(new Error(`GET ${url}: no answer within 30 s`)))
    req.on('error', reject)
    req.end()
  })
}

/** Per test: a loaded 2-core machine runs several suites at once; every wait inside is bounded too. */
const TEST_TIMEOUT_MS = 300_000

describeWithClient('chromium', 'web console in a real browser', (bin) => {
  let server: TestServer
  let browser: Browser
  let user: Credentials
  printServerLogOnFailure(() => server)
  beforeAll(async () => {
    server = await startServer()
    user = await tenant(server, 'dora', 'on')
    const cert = new X509Certificate(await readFile(join(server.dataDir, 'tls', 'server.pem')))
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
    await server?.stop()
  })

  const shot = (page: Page, name: string) => page.screenshot({ path: join(OUTPUT, `${name}.png`), fullPage: true })

  async function signIn(page: Page, creds: Credentials) {
    await page.goto(`${server.endpoint}/_coffer/console/`)
    expect(new URL(page.url()).pathname).toBe('/_coffer/console/login')
    await page.getByLabel('Access key').fill(creds.accessKeyId)
    await page.getByLabel('Secret key').fill(creds.secretAccessKey)
    await page.getByRole('button', { name: 'Sign in' }).click()
    await page.getByRole('heading', { name: 'Buckets' }).waitFor({ timeout: 30_000 })
  }

  it(
    'sign in, create a bucket, upload 20 MiB with progress, browse, download, share, sign out',
    async () => {
      const context = await browser.newContext({ acceptDownloads: true, viewport: { width: 1100, height: 800 } })
      const page = await context.newPage()
      const scriptErrors: string[] = []
      page.on('pageerror', (e) => scriptErrors.push(e.message))
      page.on('response', (r) => {
        if (r.status() >= 400) scriptErrors.push(`${r.status()} ${r.url()}`)
      })
      // Any CSP violation is reported on the console as an error.
      page.on('console', (m) => {
        if (m.type() === 'error') scriptErrors.push(m.text())
      })
      try {
        await page.goto(`${server.endpoint}/_coffer/console/login`)
        await shot(page, 'sign-in')
        await signIn(page, user)

        await page.getByLabel('New bucket').fill('dora-photos')
        await page.getByRole('button', { name: 'Create bucket' }).click()
        await page.getByRole('link', { name: 'dora-photos' }).waitFor({ timeout: 30_000 })
        await shot(page, 'buckets')

        // Into a prefix, then upload there with the page's control.
        await page.goto(`${server.endpoint}/_coffer/console/b/dora-photos?prefix=${encodeURIComponent('trips/')}`)
        const data = randomBytes(20 * 1024 * 1024)
        await page.setInputFiles('#upload-files', {
          name: 'big.bin',
          mimeType: 'application/octet-stream',
          buffer: data,
        })
        await page.getByRole('button', { name: 'Upload', exact: true }).click()
        const bar = page.locator('#upload-progress li progress')
        await bar.waitFor({ timeout: 30_000 })
        await page.locator('#upload-progress li[data-state="done"]').waitFor({ timeout: 180_000 })
        expect(await bar.evaluate((p: HTMLProgressElement) => [p.value, p.max])).toEqual([data.length, data.length])
        await shot(page, 'upload')
        // The listing was refreshed in place, the progress bars still on screen.
        await page.locator('#upload-progress[data-state="done"]').waitFor({ timeout: 30_000 })
        await page.getByRole('link', { name: 'big.bin' }).waitFor({ timeout: 30_000 })

        // Browse from the bucket's top into the prefix.
        await page.getByRole('link', { name: 'dora-photos' }).first().click()
        await page.getByRole('link', { name: 'trips/' }).click()
        await page.getByRole('link', { name: 'big.bin' }).click()
        await page.getByText('20971520 bytes').waitFor({ timeout: 30_000 })
        await shot(page, 'object')

        const [download] = await Promise.all([
          page.waitForEvent('download', { timeout: 30_000 }),
          page.getByRole('link', { name: 'Download' }).click(),
        ])
        const path = await download.path()
        expect(sha(await readFile(path))).toBe(sha(data))

        await page.getByLabel('Share link valid for').selectOption({ label: '1 hour' })
        await page.getByRole('button', { name: 'Make share link' }).click()
        const link = await page.locator('#share-url').inputValue({ timeout: 30_000 })
        expect(link).toMatch(/X-Amz-Signature=[0-9a-f]{64}$/)
        await page.getByRole('button', { name: 'Copy link' }).waitFor()
        await shot(page, 'share')
        const shared = await fetchBytes(server, link)
        expect(shared.status).toBe(200)
        expect(sha(shared.body)).toBe(sha(data))

        const cookies = await context.cookies()
        const session = cookies.find((c) => c.name === 'coffer_console')
        expect(session).toMatchObject({ httpOnly: true, secure: true, sameSite: 'Strict' })
        await page.getByRole('button', { name: 'Sign out' }).click()
        await page.getByRole('heading', { name: 'Sign in' }).waitFor({ timeout: 30_000 })
        // The old session id, replayed, is dead on the server.
        const replay = await new Promise<number>((resolve, reject) => {
          const req = request(
            `${server.endpoint}/_coffer/console/`,
            {
              ca: server.caPem,
              agent: false,
              timeout: 10_000,
              headers: { cookie: `coffer_console=${session!.value}` },
            },
            (res) => {
              res.resume()
              resolve(res.statusCode ?? 0)
            },
          )
          req.on('error', reject)
          req.end()
        })
        expect(replay).toBe(303)
        expect(scriptErrors).toEqual([])
      } finally {
        await context.close()
      }
    },
    TEST_TIMEOUT_MS,
  )

  it(
    'uploads a folder: each file under the folder’s name, below the current prefix',
    async () => {
      const dir = await mkdtemp(join(tmpdir(), 'coffer-console-'))
      const folder = join(dir, 'album')
      await mkdir(join(folder, 'raw'), { recursive: true })
      await writeFile(join(folder, 'one.txt'), 'first')
      await writeFile(join(folder, 'raw', 'two.txt'), 'second')
      const context = await browser.newContext({ viewport: { width: 1100, height: 800 } })
      const page = await context.newPage()
      try {
        await signIn(page, user)
        await page.getByLabel('New bucket').fill('dora-folders')
        await page.getByRole('button', { name: 'Create bucket' }).click()
        await page.goto(`${server.endpoint}/_coffer/console/b/dora-folders?prefix=${encodeURIComponent('in/')}`)
        await page.setInputFiles('#upload-folder', folder)
        await page.getByRole('button', { name: 'Upload', exact: true }).click()
        await page.locator('#upload-progress[data-state="done"]').waitFor({ timeout: 30_000 })
        const s3 = s3Client(server, user)
        const listed = await s3.send(new ListObjectsV2Command({ Bucket: 'dora-folders' }))
        expect((listed.Contents ?? []).map((o) => o.Key).sort()).toEqual(['in/album/one.txt', 'in/album/raw/two.txt'])
        s3.destroy()
      } finally {
        await context.close()
        await rm(dir, { recursive: true, force: true })
      }
    },
    TEST_TIMEOUT_MS,
  )

  it(
    'Cancel stops a multipart upload mid-way and aborts it on the server',
    async () => {
      const context = await browser.newContext({ viewport: { width: 1100, height: 800 } })
      const page = await context.newPage()
      try {
        await signIn(page, user)
        await page.getByLabel('New bucket').fill('dora-cancel')
        await page.getByRole('button', { name: 'Create bucket' }).click()
        await page.getByRole('link', { name: 'dora-cancel' }).click()
        // Hold the second part in the browser: the upload is then surely in flight when Cancel is pressed.
        let held: Route | undefined
        await page.route(/\/multipart\/part\?.*partNumber=2/, (route) => {
          held = route
        })
        await page.setInputFiles('#upload-files', {
          name: 'cancelled.bin',
          mimeType: 'application/octet-stream',
          buffer: randomBytes(20 * 1024 * 1024),
        })
        await page.getByRole('button', { name: 'Upload', exact: true }).click()
        for (let i = 0; i < 1200 && !held; i++) await page.waitForTimeout(50)
        expect(held).toBeDefined()
        await page.getByRole('button', { name: 'Cancel' }).click()
        await page.locator('#upload-progress li[data-state="cancelled"]').waitFor({ timeout: 30_000 })
        await shot(page, 'upload-cancelled')
        const s3 = s3Client(server, user)
        let uploads = -1
        for (let i = 0; i < 50 && uploads !== 0; i++) {
          const r = await s3.send(new ListMultipartUploadsCommand({ Bucket: 'dora-cancel' }))
          uploads = r.Uploads?.length ?? 0
          if (uploads !== 0) await new Promise((r) => setTimeout(r, 200))
        }
        expect(uploads).toBe(0)
        const listed = await s3.send(new ListObjectsV2Command({ Bucket: 'dora-cancel' }))
        expect(listed.KeyCount).toBe(0)
        s3.destroy()
      } finally {
        await context.close()
      }
    },
    TEST_TIMEOUT_MS,
  )

  it(
    'root sees the operator page with cluster health; creating a user shows its secret once',
    async () => {
      const context = await browser.newContext({ viewport: { width: 1100, height: 800 } })
      const page = await context.newPage()
      try {
        await signIn(page, server)
        await page.getByRole('link', { name: 'Operator' }).click()
        await page.getByRole('heading', { name: 'Cluster health' }).waitFor({ timeout: 30_000 })
        await expect(page.locator('td', { hasText: 'drive-0' }).count()).resolves.toBe(1)
        await page.getByLabel('New user').fill('eve')
        await page.getByLabel('in namespace').selectOption('dora')
        await page.getByRole('button', { name: 'Create user' }).click()
        const secret = await page.locator('#new-secret').inputValue({ timeout: 30_000 })
        expect(secret.length).toBeGreaterThanOrEqual(40)
        await shot(page, 'operator')
        // Shown once: the page again (GET; a reload would re-send the POST) has no secret.
        await page.goto(`${server.endpoint}/_coffer/console/admin`)
        await expect(page.locator('#new-secret').count()).resolves.toBe(0)
        // A narrow screen still shows the page (no horizontal overflow of the body).
        await page.setViewportSize({ width: 380, height: 800 })
        const overflow = await page.evaluate(() => document.body.scrollWidth - window.innerWidth)
        await shot(page, 'operator-narrow')
        expect(overflow).toBeLessThanOrEqual(0)
      } finally {
        await context.close()
      }
    },
    TEST_TIMEOUT_MS,
  )

  it(
    'root sees the request charts, attaches a user policy, rotates the master key after confirming',
    async () => {
      const context = await browser.newContext({ viewport: { width: 1100, height: 900 } })
      const page = await context.newPage()
      try {
        await signIn(page, server)
        await page.goto(`${server.endpoint}/_coffer/console/admin`)
        const charts = page.locator('#charts')
        await charts.waitFor({ timeout: 30_000 })
        // The earlier tests' uploads are on the charts: three SVG images, a line with a peak.
        await expect(page.getByRole('img', { name: /Request rate, last 60 minutes/ }).count()).resolves.toBe(1)
        expect(Number(await page.locator('#requests-last-hour').textContent())).toBeGreaterThan(0)
        await expect(page.locator('#chart-throughput polyline').count()).resolves.toBeGreaterThan(0)
        await charts.screenshot({ path: join(OUTPUT, 'charts.png') })
        // A user's policy page: attach readonly plus a document of its own.
        const row = page.locator('tr', { hasText: 'dora-user' })
        await row.getByRole('link', { name: 'Policy' }).click()
        await page.getByLabel('Built-in policy').selectOption('readonly')
        await page.getByLabel(/Own policy document/).fill('{"Version": "2012-10-17", "Statement": [')
        await page.getByRole('button', { name: 'Save policies' }).click()
        await page.locator('p.error', { hasText: 'MalformedPolicy' }).waitFor({ timeout: 30_000 })
        await page
          .getByLabel(/Own policy document/)
          .fill(
            JSON.stringify(
              { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:ListAllMyBuckets', Resource: '*' }] },
              null,
              2,
            ),
          )
        await page.getByRole('button', { name: 'Save policies' }).click()
        await page.locator('p.ok', { hasText: 'The policies were saved' }).waitFor({ timeout: 30_000 })
        await expect(page.locator('#current-builtin').textContent()).resolves.toBe('readonly')
        await shot(page, 'user-policy')
        // Give dora back her rights for whatever runs after.
        await page.getByLabel('Built-in policy').selectOption('readwrite')
        await page.getByLabel(/Own policy document/).fill('')
        await page.getByRole('button', { name: 'Save policies' }).click()
        await page.locator('p.ok').waitFor({ timeout: 30_000 })
        // Master-key rotation asks first: dismissed, nothing happens; accepted, it runs.
        await page.goto(`${server.endpoint}/_coffer/console/admin`)
        page.once('dialog', (d) => void d.dismiss())
        await page.getByRole('button', { name: 'Rotate master key' }).click()
        await expect(page.locator('p.ok').count()).resolves.toBe(0)
        let asked = ''
        page.once('dialog', (d) => {
          asked = d.message()
          void d.accept()
        })
        await page.getByRole('button', { name: 'Rotate master key' }).click()
        await page.locator('p.ok', { hasText: 'The master key was rotated' }).waitFor({ timeout: 60_000 })
        expect(asked).toContain('Rotate the master key?')
        await shot(page, 'master-key-rotated')
      } finally {
        await context.close()
      }
    },
    TEST_TIMEOUT_MS,
  )

  it(
    'a bucket’s lifecycle rules, policy and CORS editors: a rule added and removed, a malformed policy refused, CORS saved',
    async () => {
      const context = await browser.newContext({ viewport: { width: 1100, height: 800 } })
      const page = await context.newPage()
      try {
        await signIn(page, server)
        await page.getByLabel('New bucket').fill('ops-archive')
        await page.getByRole('button', { name: 'Create bucket' }).click()
        await page.getByRole('link', { name: 'ops-archive' }).click()
        await page.getByRole('link', { name: 'Lifecycle rules' }).click()
        await page.locator('#no-rules').waitFor({ timeout: 30_000 })
        await page.getByLabel('Rule name').fill('old-logs')
        await page.getByLabel('Objects under prefix').fill('logs/')
        await page.getByLabel('expire after (days)').fill('30')
        await page.getByRole('button', { name: 'Add expiration rule' }).click()
        await page
          .locator('#rules td', { hasText: 'expire current versions after 30 days' })
          .waitFor({ timeout: 30_000 })
        await page.getByLabel('Rule name').fill('tmp')
        await page.getByLabel('Objects under prefix').fill('tmp/')
        await page.getByLabel('expire after (days)').fill('1')
        await page.getByRole('button', { name: 'Add expiration rule' }).click()
        await page.locator('#rules td', { hasText: 'prefix tmp/' }).waitFor({ timeout: 30_000 })
        await shot(page, 'lifecycle')
        page.once('dialog', (d) => void d.accept())
        await page.getByRole('button', { name: 'Remove rule tmp' }).click()
        await page.locator('p.ok', { hasText: 'Rule tmp removed.' }).waitFor({ timeout: 30_000 })
        await expect(page.locator('#rules tbody tr').count()).resolves.toBe(1)
        // The policy editor: S3's refusal as a sentence with its code, the text kept.
        await page.getByRole('link', { name: 'ops-archive' }).click()
        await page.getByRole('link', { name: 'Edit policy' }).click()
        await page.getByLabel(/Bucket policy/).fill('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow"}]}')
        await page.getByRole('button', { name: 'Save policy' }).click()
        const error = page.locator('p.error', { hasText: 'MalformedPolicy' })
        await error.waitFor({ timeout: 30_000 })
        expect(await page.getByLabel(/Bucket policy/).inputValue()).toContain('"Effect": "Allow"')
        await shot(page, 'bucket-policy')
        // The CORS editor offers an example for a bucket with none; saved as offered, the bucket
        // page counts its rule.
        await page.getByRole('link', { name: 'ops-archive' }).click()
        await page.getByRole('link', { name: 'Edit CORS' }).click()
        expect(await page.getByLabel(/CORS configuration/).inputValue()).toContain('<AllowedMethod>PUT</AllowedMethod>')
        await page.getByRole('button', { name: 'Save CORS configuration' }).click()
        await page.locator('p.ok', { hasText: 'The CORS configuration was saved.' }).waitFor({ timeout: 30_000 })
        await shot(page, 'bucket-cors')
        await page.getByRole('link', { name: 'ops-archive' }).click()
        await page.locator('dd', { hasText: '1 rule' }).last().waitFor({ timeout: 30_000 })
      } finally {
        await context.close()
      }
    },
    TEST_TIMEOUT_MS,
  )
})
