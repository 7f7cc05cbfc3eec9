/**
 * Runs INSIDE the browser page (bundled by esbuild at test time, test/helpers/browser-bundle.ts):
 * the real AWS SDK v3 for JavaScript, as a web application would use it, PUTs an object and GETs
 * it back from another origin. The browser makes the preflight and enforces CORS; the SDK signs
 * with SigV4 and (its default) adds a CRC32 checksum. Each step is written into the page so the
 * screenshot shows it.
 */
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3'

export interface SdkRun {
  endpoint: string
  region: string
  accessKeyId: string
  secretAccessKey: string
  bucket: string
  key: string
  /** The object, base64 (page.evaluate passes strings, not bytes). */
  body: string
}

export type SdkResult =
  | { put: number; etag?: string; get: number; contentType?: string; body: string }
  | { error: string; name?: string }

const log = (s: string) => {
  const el = document.getElementById('log')
  if (el) el.textContent += `${s}\n`
}

const toBase64 = (bytes: Uint8Array): string => {
  let s = ''
  for (const b of bytes) s += String.fromCharCode(b)
  return btoa(s)
}

async function runSdk(r: SdkRun): Promise<SdkResult> {
  const s3 = new S3Client({
    endpoint: r.endpoint,
    region: r.region,
    forcePathStyle: true,
    credentials: { accessKeyId: r.accessKeyId, secretAccessKey: r.secretAccessKey },
    maxAttempts: 1,
  })
  try {
    const bytes = Uint8Array.from(atob(r.body), (c) => c.charCodeAt(0))
    const put = await s3.send(
      new PutObjectCommand({ Bucket: r.bucket, Key: r.key, Body: bytes, ContentType: 'application/octet-stream' }),
    )
    log(`SDK PutObject ${put.$metadata.httpStatusCode} etag ${put.ETag}`)
    const got = await s3.send(new GetObjectCommand({ Bucket: r.bucket, Key: r.key }))
    const back = await got.Body!.transformToByteArray()
    log(`SDK GetObject ${got.$metadata.httpStatusCode} ${back.length} bytes`)
    return {
      put: put.$metadata.httpStatusCode ?? 0,
      ...(put.ETag ? { etag: put.ETag } : {}),
      get: got.$metadata.httpStatusCode ?? 0,
      ...(got.ContentType ? { contentType: got.ContentType } : {}),
      body: toBase64(back),
    }
  } catch (e) {
    const err = e as Error
    log(`SDK refused: ${err.name}: ${err.message}`)
    return { error: String(err.message), name: err.name }
  }
}

;(window as unknown as { runSdk: typeof runSdk }).runSdk = runSdk
