import { describe, expect, it } from 'vitest'
import { type RequestFacts, requestContext } from './authorize.ts'

const facts = (over: Partial<RequestFacts> = {}): RequestFacts => ({
  endpoint: 'GetObject',
  bucket: 'b',
  key: 'k',
  query: new URLSearchParams(),
  headers: new Headers(),
  now: new Date('2026-12-02T10:00:00.123Z'),
  ...over,
})

describe('requestContext (the condition keys of a request)', () => {
  it('always TLS; time; source address without the port, IPv4 and IPv6', () => {
    const c = requestContext(facts({ connection: '127.0.0.1:50123' }))
    expect(c.get('aws:securetransport')).toEqual(['true'])
    expect(c.get('aws:sourceip')).toEqual(['127.0.0.1'])
    expect(c.get('aws:currenttime')).toEqual(['2026-12-02T10:00:00Z'])
    expect(c.get('aws:epochtime')).toEqual([String(Date.parse('2026-12-02T10:00:00Z') / 1000)])
    expect(requestContext(facts({ connection: '::1:443' })).get('aws:sourceip')).toEqual(['::1'])
    expect(requestContext(facts({ connection: '::ffff:10.0.0.1:9' })).get('aws:sourceip')).toEqual(['::ffff:10.0.0.1'])
    expect(requestContext(facts()).has('aws:sourceip')).toBe(false)
  })

  it('listing keys only on listings, present only when sent', () => {
    const query = new URLSearchParams('list-type=2&prefix=home/a/&delimiter=/')
    const list = requestContext(facts({ endpoint: 'ListObjectsV2', key: undefined, query }))
    expect(list.get('s3:prefix')).toEqual(['home/a/'])
    expect(list.get('s3:delimiter')).toEqual(['/'])
    expect(list.has('s3:max-keys')).toBe(false)
    expect(requestContext(facts({ query })).has('s3:prefix')).toBe(false)
  })

  it('headers, signature kind and request tags', () => {
    const headers = new Headers({
      'x-amz-acl': 'private',
      'x-amz-server-side-encryption': 'AES256',
      'x-amz-tagging': 'Project=Blue&team=a',
      referer: 'https://example.com/',
      'user-agent': 'curl/8',
    })
    const signed = requestContext(
      facts({
        endpoint: 'PutObject',
        headers,
        auth: { accessKeyId: 'AK', presigned: true, payload: { kind: 'unsigned' } },
      }),
    )
    expect(signed.get('s3:x-amz-acl')).toEqual(['private'])
    expect(signed.get('s3:x-amz-server-side-encryption')).toEqual(['AES256'])
    expect(signed.get('s3:requestobjecttagkeys')).toEqual(['Project', 'team'])
    expect(signed.get('s3:requestobjecttag/Project')).toEqual(['Blue'])
    expect(signed.get('aws:referer')).toEqual(['https://example.com/'])
    expect(signed.get('aws:useragent')).toEqual(['curl/8'])
    expect(signed.get('s3:signatureversion')).toEqual(['AWS4-HMAC-SHA256'])
    expect(signed.get('s3:authtype')).toEqual(['REST-QUERY-STRING'])
    const anonymous = requestContext(facts())
    expect(anonymous.has('s3:signatureversion')).toBe(false)
    expect(anonymous.has('s3:authtype')).toBe(false)
  })
})
