import { describe, expect, it } from 'vitest'
import { isS3Error } from '../errors.ts'
import { authenticate } from './sigv4.ts'
import { canonicalAmzHeaders, canonicalResource, signV2, stringToSignV2, verifyV2, type V2Request } from './sigv2.ts'
import { createTestPlatform } from '../../util/platform.testkit.ts'

const nodePlatform = createTestPlatform()

// The credentials and examples of the AWS SigV2 reference ("Signing and authenticating REST
// requests", Authentication examples). The examples were computed for bucket `johnsmith`
// (renamed in later editions of the page without recomputing the signatures).
const AK = 'AKIAIOSFODNN7EXAMPLE'
const SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY'
const lookup = async (id: string) => (id === AK ? SECRET : undefined)

interface Vector {
  name: string
  method: string
  resourcePath: string
  rawQuery?: string
  headers: [string, string][]
  signature: string
  stringToSign: string
}

const VECTORS: Vector[] = [
  {
    name: 'Object GET (virtual-hosted: the bucket is in the resource, not the path)',
    method: 'GET',
    resourcePath: '/johnsmith/photos/puppy.jpg',
    headers: [['Date', 'Tue, 27 Mar 2007 19:36:42 +0000']],
    signature: 'bWq2s1WEIj+Ydj0vQ697zp+IXMU=',
    stringToSign: 'GET\n\n\nTue, 27 Mar 2007 19:36:42 +0000\n/johnsmith/photos/puppy.jpg',
  },
  {
    name: 'Object PUT (Content-Type signed, Content-MD5 empty)',
    method: 'PUT',
    resourcePath: '/johnsmith/photos/puppy.jpg',
    headers: [
      ['Content-Type', 'image/jpeg'],
      ['Content-Length', '94328'],
      ['Date', 'Tue, 27 Mar 2007 21:15:45 +0000'],
    ],
    signature: 'MyyxeRY7whkBe+bq8fHCL/2kKUg=',
    stringToSign: 'PUT\n\nimage/jpeg\nTue, 27 Mar 2007 21:15:45 +0000\n/johnsmith/photos/puppy.jpg',
  },
  {
    name: 'List (query parameters that are not sub-resources are not signed)',
    method: 'GET',
    resourcePath: '/johnsmith/',
    rawQuery: 'prefix=photos&max-keys=50&marker=puppy',
    headers: [
      ['User-Agent', 'Mozilla/5.0'],
      ['Date', 'Tue, 27 Mar 2007 19:42:41 +0000'],
    ],
    signature: 'htDYFYduRNen8P9ZfE/s9SuKy0U=',
    stringToSign: 'GET\n\n\nTue, 27 Mar 2007 19:42:41 +0000\n/johnsmith/',
  },
  {
    name: 'Fetch ?acl (a sub-resource is signed)',
    method: 'GET',
    resourcePath: '/johnsmith/',
    rawQuery: 'acl',
    headers: [['Date', 'Tue, 27 Mar 2007 19:44:46 +0000']],
    signature: 'c2WLPFtWHVgbEmeEG93a4cG37dM=',
    stringToSign: 'GET\n\n\nTue, 27 Mar 2007 19:44:46 +0000\n/johnsmith/?acl',
  },
  {
    name: 'Upload with x-amz-* headers (lower-cased, sorted, repeated ones joined with a comma)',
    method: 'PUT',
    resourcePath: '/static.johnsmith.net/db-backup.dat.gz',
    headers: [
      ['User-Agent', 'curl/7.15.5'],
      ['Date', 'Tue, 27 Mar 2007 21:06:08 +0000'],
      ['x-amz-acl', 'public-read'],
      ['content-type', 'application/x-download'],
      ['Content-MD5', '4gJE4saaMU4BqNR0kLY+lw=='],
      ['X-Amz-Meta-ReviewedBy', 'joe@johnsmith.net'],
      ['X-Amz-Meta-ReviewedBy', 'jane@johnsmith.net'],
      ['X-Amz-Meta-FileChecksum', '0x02661779'],
      ['X-Amz-Meta-ChecksumAlgorithm', 'crc32'],
      ['Content-Disposition', 'attachment; filename=database.dat'],
      ['Content-Encoding', 'gzip'],
      ['Content-Length', '5913339'],
    ],
    signature: 'ilyl83RwaSoYIEdixDQcA4OnAnc=',
    stringToSign:
      'PUT\n4gJE4saaMU4BqNR0kLY+lw==\napplication/x-download\nTue, 27 Mar 2007 21:06:08 +0000\n' +
      'x-amz-acl:public-read\nx-amz-meta-checksumalgorithm:crc32\nx-amz-meta-filechecksum:0x02661779\n' +
      'x-amz-meta-reviewedby:joe@johnsmith.net,jane@johnsmith.net\n/static.johnsmith.net/db-backup.dat.gz',
  },
  {
    name: 'List all my buckets',
    method: 'GET',
    resourcePath: '/',
    headers: [['Date', 'Wed, 28 Mar 2007 01:29:59 +0000']],
    signature: 'qGdzdERIC03wnaRNKh6OqZehG9s=',
    stringToSign: 'GET\n\n\nWed, 28 Mar 2007 01:29:59 +0000\n/',
  },
  {
    name: 'Unicode keys (the path is signed exactly as sent, escapes and case included)',
    method: 'GET',
    resourcePath: '/dictionary/fran%C3%A7ais/pr%c3%a9f%c3%a8re',
    headers: [['Date', 'Wed, 28 Mar 2007 01:49:49 +0000']],
    signature: 'DNEZGsoieTZ92F3bUfSPQcbGmlM=',
    stringToSign: 'GET\n\n\nWed, 28 Mar 2007 01:49:49 +0000\n/dictionary/fran%C3%A7ais/pr%c3%a9f%c3%a8re',
  },
]

function request(v: Vector, signature = v.signature): V2Request {
  const headers = new Headers()
  for (const [k, val] of v.headers) headers.append(k, val)
  headers.set('authorization', `AWS ${AK}:${signature}`)
  return { method: v.method, resourcePath: v.resourcePath, rawQuery: v.rawQuery ?? '', headers }
}
const dateOf = (v: Vector) => new Date(v.headers.find(([k]) => k.toLowerCase() === 'date')![1])

async function v2Error(p: Promise<unknown>) {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  )
  if (!isS3Error(e)) throw new Error(`expected an S3Error, got ${String(e)}`)
  return e
}

describe('SigV2 string to sign and HMAC-SHA1 (AWS reference examples)', () => {
  it.each(VECTORS)('$name', async (v) => {
    const headers = new Headers()
    for (const [k, val] of v.headers) headers.append(k, val)
    const sts = stringToSignV2({
      method: v.method,
      contentMd5: headers.get('content-md5') ?? '',
      contentType: headers.get('content-type') ?? '',
      date: headers.get('date') ?? '',
      amzHeaders: canonicalAmzHeaders(v.headers),
      resource: canonicalResource(v.resourcePath, v.rawQuery ?? ''),
    })
    expect(sts).toBe(v.stringToSign)
    expect(await signV2(SECRET, sts)).toBe(v.signature)
    // And the whole verification, through a Headers object (which joins repeated headers with ', ').
    await expect(verifyV2(request(v), dateOf(v), lookup)).resolves.toEqual({ accessKeyId: AK, presigned: false })
  })

  it('Delete with x-amz-date: the Date line is empty and x-amz-date is signed among the x-amz headers', async () => {
    // The reference's Delete example prints the x-amz-date value on the Date line; every client
    // (botocore, s3cmd) and S3 itself sign it as below, which the same page prescribes in words.
    const sts = 'DELETE\n\n\n\nx-amz-date:Tue, 27 Mar 2007 21:20:26 +0000\n/johnsmith/photos/puppy.jpg'
    const signature = await signV2(SECRET, sts)
    const headers = new Headers({
      date: 'Tue, 27 Mar 2007 21:20:27 +0000',
      'x-amz-date': 'Tue, 27 Mar 2007 21:20:26 +0000',
      authorization: `AWS ${AK}:${signature}`,
    })
    const req = { method: 'DELETE', resourcePath: '/johnsmith/photos/puppy.jpg', rawQuery: '', headers }
    await expect(verifyV2(req, new Date('2007-03-27T21:20:26Z'), lookup)).resolves.toMatchObject({ accessKeyId: AK })
  })

  it('sorts sub-resources by name, keeps response-* overrides decoded, drops the other parameters', () => {
    expect(
      canonicalResource('/b/k', 'versionId=v%2F1&response-content-type=text%2Fplain&prefix=x&acl&uploadId=u+1'),
    ).toBe('/b/k?acl&response-content-type=text/plain&uploadId=u+1&versionId=v/1')
    expect(canonicalResource('/b/', 'delete')).toBe('/b/?delete')
    expect(canonicalResource('/b/', 'list-type=2&cors')).toBe('/b/?cors')
  })
})

describe('SigV2 refusals', () => {
  const v = VECTORS[0]!
  it('a wrong signature → SignatureDoesNotMatch with the string to sign', async () => {
    const e = await v2Error(verifyV2(request(v, 'AAAAs1WEIj+Ydj0vQ697zp+IXMU='), dateOf(v), lookup))
    expect(e.code).toBe('SignatureDoesNotMatch')
    expect(e.details.StringToSign).toBe(v.stringToSign)
  })
  it('an unknown key → InvalidAccessKeyId', async () => {
    const req = request(v)
    req.headers.set('authorization', `AWS NOSUCHKEY:${v.signature}`)
    expect((await v2Error(verifyV2(req, dateOf(v), lookup))).code).toBe('InvalidAccessKeyId')
  })
  it('more than 15 minutes of skew → RequestTimeTooSkewed; no date → AccessDenied', async () => {
    const later = new Date(dateOf(v).getTime() + 15 * 60 * 1000 + 1000)
    expect((await v2Error(verifyV2(request(v), later, lookup))).code).toBe('RequestTimeTooSkewed')
    const earlier = new Date(dateOf(v).getTime() - 16 * 60 * 1000)
    expect((await v2Error(verifyV2(request(v), earlier, lookup))).code).toBe('RequestTimeTooSkewed')
    const req = request(v)
    req.headers.delete('date')
    expect((await v2Error(verifyV2(req, dateOf(v), lookup))).code).toBe('AccessDenied')
  })
  it('a malformed header → InvalidArgument', async () => {
    const req = request(v)
    req.headers.set('authorization', 'AWS nocolon')
    expect((await v2Error(verifyV2(req, dateOf(v), lookup))).code).toBe('InvalidArgument')
  })
})

describe('SigV2 query authentication', () => {
  const expires = 1175139620
  const resourcePath = '/johnsmith/photos/puppy.jpg'
  async function url(extra = '') {
    const sts = `GET\n\n\n${expires}\n${resourcePath}`
    const sig = encodeURIComponent(await signV2(SECRET, sts))
    return `AWSAccessKeyId=${AK}&Expires=${expires}&Signature=${sig}${extra}`
  }
  const req = (rawQuery: string): V2Request => ({ method: 'GET', resourcePath, rawQuery, headers: new Headers() })

  it('verifies until Expires, then AccessDenied "Request has expired"', async () => {
    const before = new Date((expires - 1) * 1000)
    await expect(verifyV2(req(await url()), before, lookup)).resolves.toEqual({ accessKeyId: AK, presigned: true })
    const e = await v2Error(verifyV2(req(await url()), new Date((expires + 1) * 1000), lookup))
    expect([e.code, e.message]).toEqual(['AccessDenied', 'Request has expired'])
  })
  it('missing parameters → AccessDenied; an unescaped + in the signature still verifies', async () => {
    const before = new Date((expires - 1) * 1000)
    const e = await v2Error(verifyV2(req(`AWSAccessKeyId=${AK}&Signature=x`), before, lookup))
    expect(e.code).toBe('AccessDenied')
    const sig = await signV2(SECRET, `GET\n\n\n${expires}\n${resourcePath}`)
    expect(sig).toContain('+') // the reference key's signature has one: the case below is exercised
    const raw = `AWSAccessKeyId=${AK}&Expires=${expires}&Signature=${sig}`
    await expect(verifyV2(req(raw), before, lookup)).resolves.toMatchObject({ presigned: true })
  })
  it('x-amz-* and Content-Type carried in the query (botocore) are signed', async () => {
    const sts = `PUT\n\ntext/plain\n${expires}\nx-amz-meta-a:1\n${resourcePath}`
    const sig = encodeURIComponent(await signV2(SECRET, sts))
    const raw = `AWSAccessKeyId=${AK}&Expires=${expires}&Signature=${sig}&content-type=text%2Fplain&x-amz-meta-a=1`
    const r = { method: 'PUT', resourcePath, rawQuery: raw, headers: new Headers() }
    await expect(verifyV2(r, new Date((expires - 1) * 1000), lookup)).resolves.toMatchObject({ accessKeyId: AK })
  })
})

describe('authenticate() with SigV2', () => {
  const v = VECTORS[0]!
  const ctx = (sigv2: boolean) => ({
    region: 'us-east-1',
    now: () => dateOf(v),
    platform: nodePlatform,
    lookupSecret: lookup,
    sigv2,
  })
  const authReq = () => {
    const r = request(v)
    return {
      method: 'GET',
      rawPath: '/photos/puppy.jpg',
      v2ResourcePath: r.resourcePath,
      rawQuery: '',
      headers: r.headers,
    }
  }
  it('on: the same Authenticated as SigV4 (access key, unsigned payload)', async () => {
    await expect(authenticate(authReq(), ctx(true))).resolves.toEqual({
      accessKeyId: AK,
      presigned: false,
      payload: { kind: 'unsigned' },
      signatureVersion: 2,
    })
  })
  it('off: 400 InvalidRequest "Please use AWS4-HMAC-SHA256", header and query alike', async () => {
    const e = await v2Error(authenticate(authReq(), ctx(false)))
    expect([e.code, e.status]).toEqual(['InvalidRequest', 400])
    expect(e.message).toContain('AWS4-HMAC-SHA256')
    const q = { ...authReq(), headers: new Headers(), rawQuery: `AWSAccessKeyId=${AK}&Expires=1&Signature=x` }
    expect((await v2Error(authenticate(q, ctx(false)))).code).toBe('InvalidRequest')
  })
  it('a header and a query signature together → InvalidArgument', async () => {
    const q = { ...authReq(), rawQuery: `AWSAccessKeyId=${AK}&Expires=1&Signature=x` }
    expect((await v2Error(authenticate(q, ctx(true)))).code).toBe('InvalidArgument')
  })
})
