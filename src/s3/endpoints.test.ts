import { describe, expect, it } from 'vitest'
import { resolveTarget, splitUrl } from './endpoints.ts'

describe('splitUrl', () => {
  it('keeps the path exactly as sent', () => {
    expect(splitUrl('https://h:9000/b/a%20b/%2B?x=1&y')).toEqual({ rawPath: '/b/a%20b/%2B', rawQuery: 'x=1&y' })
    expect(splitUrl('https://h')).toEqual({ rawPath: '/', rawQuery: '' })
  })
})

describe('resolveTarget', () => {
  it('path-style', () => {
    const root = resolveTarget('https://127.0.0.1:9000/', '127.0.0.1:9000')
    expect(root?.bucket).toBeUndefined()
    expect(root?.rawPath).toBe('/')
    expect(resolveTarget('https://127.0.0.1:9000/bkt', null)).toMatchObject({ bucket: 'bkt' })
    expect(resolveTarget('https://127.0.0.1:9000/bkt/', null)).toMatchObject({ bucket: 'bkt' })
    expect(resolveTarget('https://x/bkt/dir//a%20b%2Bc/', null)).toMatchObject({ bucket: 'bkt', key: 'dir//a b+c/' })
    expect(resolveTarget('https://x/bkt/%F0%9D%84%9E', null)).toMatchObject({ key: '𝄞' })
  })

  it('virtual-hosted-style only under the configured domain', () => {
    expect(resolveTarget('https://b.s3.test:9000/k/x', 'b.s3.test:9000', 's3.test')).toMatchObject({
      bucket: 'b',
      key: 'k/x',
    })
    expect(resolveTarget('https://my.bucket.s3.test/', 'my.bucket.s3.test', 's3.test')).toMatchObject({
      bucket: 'my.bucket',
    })
    expect(resolveTarget('https://s3.test/b/k', 's3.test', 's3.test')).toMatchObject({ bucket: 'b', key: 'k' })
    expect(resolveTarget('https://b.s3.test/b2/k', 'b.s3.test', undefined)).toMatchObject({ bucket: 'b2', key: 'k' })
  })

  it('rejects broken percent-encoding', () => {
    expect(resolveTarget('https://x/b/%E0%A4%A', null)).toBeUndefined()
  })
})
