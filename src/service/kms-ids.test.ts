import { describe, expect, it } from 'vitest'
import {
  aliasForNewKey,
  canonicalEncryptionContext,
  EncryptionContextError,
  kmsKeyArn,
  parseKmsKeyRef,
} from './kms-ids.ts'

const ID = '1234abcd-12ab-34cd-56ef-1234567890ab'
const b64 = (s: string) => Buffer.from(s).toString('base64')

describe('KMS key references', () => {
  it('ids, aliases and their ARNs parse; anything else does not', () => {
    expect(kmsKeyArn('us-east-1', 'ns1', ID)).toBe(`arn:aws:kms:us-east-1:ns1:key/${ID}`)
    expect(parseKmsKeyRef(ID)).toEqual({ kind: 'id', id: ID })
    expect(parseKmsKeyRef('alias/app/logs')).toEqual({ kind: 'alias', alias: 'alias/app/logs' })
    expect(parseKmsKeyRef(`arn:aws:kms:eu-west-1:ns1:key/${ID}`)).toEqual({
      kind: 'id',
      id: ID,
      region: 'eu-west-1',
      account: 'ns1',
    })
    expect(parseKmsKeyRef('arn:aws:kms:us-east-1:ns1:alias/app')).toEqual({
      kind: 'alias',
      alias: 'alias/app',
      region: 'us-east-1',
      account: 'ns1',
    })
    for (const bad of [
      '',
      'app',
      'alias/',
      'alias/a b',
      `key/${ID}`,
      'arn:aws:kms:us-east-1:ns1:key/not-a-uuid',
      ID.toUpperCase(),
    ])
      expect(parseKmsKeyRef(bad), bad).toBeUndefined()
  })

  it('a new key takes NAME or alias/NAME, never under alias/aws/', () => {
    expect(aliasForNewKey('app')).toBe('alias/app')
    expect(aliasForNewKey('alias/app')).toBe('alias/app')
    expect(aliasForNewKey('aws/s3')).toBeUndefined()
    expect(aliasForNewKey('bad name')).toBeUndefined()
    expect(aliasForNewKey('x'.repeat(251))).toBeUndefined()
  })
})

describe('encryption context', () => {
  it('is canonical: keys sorted, spacing gone, so the same context always binds the same way', () => {
    expect(canonicalEncryptionContext(b64('{ "b": "2", "a": "1" }'))).toBe('{"a":"1","b":"2"}')
    expect(canonicalEncryptionContext(b64('{}'))).toBe('{}')
    expect(canonicalEncryptionContext(b64('{"é":"ü"}'))).toBe('{"é":"ü"}')
  })

  it('refuses what is not base64 of a UTF-8 JSON object of strings, or too long', () => {
    const bad = [
      '',
      'not base64!',
      b64('[]'),
      b64('"s"'),
      b64('{"a":1}'),
      b64('{"a":null}'),
      b64('{"":"x"}'),
      b64('{bad json'),
      Buffer.from([0x7b, 0xff, 0x7d]).toString('base64'),
      b64(JSON.stringify({ a: 'x'.repeat(5000) })),
    ]
    for (const v of bad) expect(() => canonicalEncryptionContext(v), v).toThrow(EncryptionContextError)
  })
})
