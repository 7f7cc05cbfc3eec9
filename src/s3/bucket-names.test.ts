import { describe, expect, it } from 'vitest'
import { bucketNameProblem } from './bucket-names.ts'

describe('bucketNameProblem', () => {
  it.each(['abc', 'my-bucket', 'my.bucket.1', 'a-b.c-d', 'a'.repeat(63), '1bucket'])('%s is valid', (n) => {
    expect(bucketNameProblem(n)).toBeUndefined()
  })
  it.each([
    'ab',
    'a'.repeat(64),
    'My-Bucket',
    'my_bucket',
    '-abc',
    'abc-',
    'a..b',
    'a.-b',
    'a-.b',
    'my.bucket-.x',
    '192.168.1.1',
    'xn--abc',
    'abc-s3alias',
    'abc--ol-s3',
    'sthree-x',
    '_coffer',
  ])('%s is invalid', (n) => {
    expect(bucketNameProblem(n)).toBeTypeOf('string')
  })
})
