// Request documents as clients send them, and hostile bodies that must fail fast with S3 errors.
import { describe, expect, it } from 'vitest'
import { S3Error } from '../errors.ts'
import {
  parseCompleteMultipartUpload,
  parseCreateBucketConfiguration,
  parseDelete,
  parseServerSideEncryptionConfiguration,
} from './read.ts'
import { parseXml, readBodyBytes } from './tree.ts'

const LIMIT = 1 << 20
const stream = (text: string): ReadableStream<Uint8Array> => new Response(text).body!
const NS = 'xmlns="http://s3.amazonaws.com/doc/2006-03-01/"'

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p
  } catch (e) {
    if (e instanceof S3Error) return e.code
    throw e
  }
  return 'no error'
}

const deleteBody = (...keys: string[]): string =>
  `<Delete ${NS}>${keys.map((k) => `<Object><Key>${k}</Key></Object>`).join('')}</Delete>`

describe('parseDelete', () => {
  it('keeps keys exactly: spaces, entities, char refs, numeric-looking text, CDATA', async () => {
    const body =
      `<?xml version="1.0" encoding="UTF-8"?>\n<Delete ${NS}>\n  <Quiet> true </Quiet>\n` +
      '  <Object><Key>  lead and trail  </Key></Object>\n' +
      '  <Object><Key>a&amp;b&lt;c&gt;&quot;&apos;&#x0D;&#10;&#x1;&#x1F600;</Key><VersionId>v1</VersionId></Object>\n' +
      '  <Object><Key>1e3</Key></Object><Object><Key>0012</Key></Object><Object><Key>true</Key></Object>\n' +
      '  <Object><Key><![CDATA[<raw> &amp;]]>tail</Key></Object><Object><Key>日本語/ファイル</Key></Object>\n' +
      '  <Object><Key></Key></Object><Object><Key>   </Key></Object>\n</Delete>'
    expect(await parseDelete(stream(body), LIMIT)).toEqual({
      quiet: true,
      objects: [
        { key: '  lead and trail  ' },
        { key: `a&b<c>"'\r\n\u0001😀`, versionId: 'v1' },
        { key: '1e3' },
        { key: '0012' },
        { key: 'true' },
        { key: '<raw> &amp;tail' },
        { key: '日本語/ファイル' },
        { key: '' },
        { key: '   ' },
      ],
    })
  })

  it('handles a single Object and defaults Quiet to false', async () => {
    expect(await parseDelete(stream(deleteBody('only')), LIMIT)).toEqual({ quiet: false, objects: [{ key: 'only' }] })
  })

  it('normalises raw CR/LF line ends as XML requires (clients must send &#13; to keep a CR)', async () => {
    expect((await parseDelete(stream(deleteBody('a\r\nb\rc')), LIMIT)).objects[0]!.key).toBe('a\nb\nc')
  })

  it('accepts 1000 objects and refuses 1001 or none', async () => {
    const keys = Array.from({ length: 1001 }, (_, i) => `k${i}`)
    expect((await parseDelete(stream(deleteBody(...keys.slice(0, 1000))), LIMIT)).objects).toHaveLength(1000)
    expect(await codeOf(parseDelete(stream(deleteBody(...keys)), LIMIT))).toBe('MalformedXML')
    expect(await codeOf(parseDelete(stream(`<Delete ${NS}><Quiet>true</Quiet></Delete>`), LIMIT))).toBe('MalformedXML')
  })

  it.each([
    ['empty body', ''],
    ['wrong root', `<Remove ${NS}><Object><Key>a</Key></Object></Remove>`],
    ['missing Key', '<Delete><Object><VersionId>v</VersionId></Object></Delete>'],
    ['two Keys', '<Delete><Object><Key>a</Key><Key>b</Key></Object></Delete>'],
    ['bad Quiet', '<Delete><Quiet>yes</Quiet><Object><Key>a</Key></Object></Delete>'],
    ['Key with child elements', '<Delete><Object><Key><b>a</b></Key></Object></Delete>'],
    ['stray text', '<Delete>junk<Object><Key>a</Key></Object></Delete>'],
    ['truncated', '<Delete><Object><Key>a</Key></Object>'],
    ['mismatched tags', '<Delete><Object><Key>a</Object></Key></Delete>'],
    ['two roots', '<Delete><Object><Key>a</Key></Object></Delete><Delete/>'],
    ['raw ampersand', '<Delete><Object><Key>a & b</Key></Object></Delete>'],
    ['undefined entity', '<Delete><Object><Key>&nbsp;</Key></Object></Delete>'],
    ['NUL reference', '<Delete><Object><Key>&#0;</Key></Object></Delete>'],
    ['surrogate reference', '<Delete><Object><Key>&#xD800;</Key></Object></Delete>'],
    ['reference beyond Unicode', '<Delete><Object><Key>&#x110000;</Key></Object></Delete>'],
    ['raw control character', '<Delete><Object><Key>a\u0001b</Key></Object></Delete>'],
    ['not XML', 'hello'],
  ])('refuses %s with MalformedXML', async (_name, body) => {
    expect(await codeOf(parseDelete(stream(body), LIMIT))).toBe('MalformedXML')
  })

  it('refuses invalid UTF-8', async () => {
    const bytes = new Uint8Array([
      ...new TextEncoder().encode('<Delete><Object><Key>'),
      0xff,
      0xfe,
      ...new TextEncoder().encode('</Key></Object></Delete>'),
    ])
    expect(await codeOf(parseDelete(new Response(bytes).body, LIMIT))).toBe('MalformedXML')
  })

  it('ignores elements it does not know (newer SDK fields) and namespace prefixes', async () => {
    const body =
      '<s3:Delete xmlns:s3="http://s3.amazonaws.com/doc/2006-03-01/"><s3:Object><s3:Key>a</s3:Key>' +
      '<s3:ETag>"e"</s3:ETag><s3:Size>3</s3:Size></s3:Object></s3:Delete>'
    expect(await parseDelete(stream(body), LIMIT)).toEqual({ quiet: false, objects: [{ key: 'a' }] })
  })
})

describe('hostile input', () => {
  const laughs =
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">' +
    Array.from({ length: 9 }, (_, i) => `<!ENTITY lol${i + 1} "${`&lol${i || ''};`.repeat(10)}">`).join('') +
    ']><Delete><Object><Key>&lol9;</Key></Object></Delete>'

  it('refuses billion laughs without expanding anything', async () => {
    const started = performance.now()
    expect(await codeOf(parseDelete(stream(laughs), LIMIT))).toBe('MalformedXML')
    expect(performance.now() - started).toBeLessThan(1000)
  })

  it.each([
    [
      'external entity',
      '<?xml version="1.0"?><!DOCTYPE d [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><Delete><Object><Key>&xxe;</Key></Object></Delete>',
    ],
    [
      'external DTD',
      '<!DOCTYPE Delete SYSTEM "http://127.0.0.1:1/evil.dtd"><Delete><Object><Key>a</Key></Object></Delete>',
    ],
    ['lower-case doctype', '<!doctype Delete><Delete><Object><Key>a</Key></Object></Delete>'],
    ['parameter entity', '<!DOCTYPE d [<!ENTITY % p "x"> %p;]><Delete><Object><Key>a</Key></Object></Delete>'],
  ])('refuses a %s declaration', async (_name, body) => {
    expect(await codeOf(parseDelete(stream(body), LIMIT))).toBe('MalformedXML')
  })

  it('refuses absurd nesting', () => {
    expect(() => parseXml('<a>'.repeat(1000) + '</a>'.repeat(1000))).toThrow(S3Error)
  })

  it('stops reading a 10 MB body shortly after the limit and cancels the stream', async () => {
    const chunk = new TextEncoder().encode('<Object><Key>x</Key></Object>'.padEnd(64 * 1024, ' '))
    let pulled = 0
    let cancelled = false
    const body = new ReadableStream<Uint8Array>(
      {
        pull(c) {
          // 160 chunks of 64 KiB = 10 MiB; the bound keeps the test finite whatever happens.
          if (pulled++ >= 160) c.close()
          else c.enqueue(chunk)
        },
        cancel() {
          cancelled = true
        },
      },
      { highWaterMark: 0 },
    )
    expect(await codeOf(parseDelete(body, 256 * 1024))).toBe('MaxMessageLengthExceeded')
    expect(pulled).toBeLessThanOrEqual(6)
    expect(cancelled).toBe(true)
  })

  it('readBodyBytes reads up to the limit exactly and refuses one byte more', async () => {
    expect((await readBodyBytes(stream('x'.repeat(100)), 100)).byteLength).toBe(100)
    expect(await codeOf(readBodyBytes(stream('x'.repeat(101)), 100))).toBe('MaxMessageLengthExceeded')
    expect((await readBodyBytes(null, 0)).byteLength).toBe(0)
  })
})

describe('parseCompleteMultipartUpload', () => {
  it('keeps the given order, trims ETags, reads the five checksums', async () => {
    const body =
      `<CompleteMultipartUpload ${NS}>\n<Part>\n <PartNumber> 2 </PartNumber>\n <ETag> "bb" </ETag>\n</Part>\n` +
      '<Part><ETag>&quot;aa&quot;</ETag><ChecksumCRC32>AAAAAA==</ChecksumCRC32><ChecksumCRC32C>c</ChecksumCRC32C>' +
      '<ChecksumCRC64NVME>n</ChecksumCRC64NVME><ChecksumSHA1>s1</ChecksumSHA1><ChecksumSHA256>s2</ChecksumSHA256>' +
      '<ChecksumSHA512>ignored</ChecksumSHA512><PartNumber>1</PartNumber></Part>\n<Part><PartNumber>10000</PartNumber></Part>' +
      '</CompleteMultipartUpload>'
    expect(await parseCompleteMultipartUpload(stream(body), LIMIT)).toEqual({
      parts: [
        { partNumber: 2, etag: '"bb"', checksums: {} },
        {
          partNumber: 1,
          etag: '"aa"',
          checksums: { CRC32: 'AAAAAA==', CRC32C: 'c', CRC64NVME: 'n', SHA1: 's1', SHA256: 's2' },
        },
        { partNumber: 10000, etag: '', checksums: {} },
      ],
    })
  })

  it.each([
    ['no parts', '<CompleteMultipartUpload></CompleteMultipartUpload>'],
    ['empty body', ''],
    [
      'part number 0',
      '<CompleteMultipartUpload><Part><PartNumber>0</PartNumber><ETag>e</ETag></Part></CompleteMultipartUpload>',
    ],
    [
      'part number 10001',
      '<CompleteMultipartUpload><Part><PartNumber>10001</PartNumber><ETag>e</ETag></Part></CompleteMultipartUpload>',
    ],
    [
      'part number -1',
      '<CompleteMultipartUpload><Part><PartNumber>-1</PartNumber><ETag>e</ETag></Part></CompleteMultipartUpload>',
    ],
    [
      'part number 1.5',
      '<CompleteMultipartUpload><Part><PartNumber>1.5</PartNumber><ETag>e</ETag></Part></CompleteMultipartUpload>',
    ],
    [
      'part number 1e3',
      '<CompleteMultipartUpload><Part><PartNumber>1e3</PartNumber><ETag>e</ETag></Part></CompleteMultipartUpload>',
    ],
    ['missing part number', '<CompleteMultipartUpload><Part><ETag>e</ETag></Part></CompleteMultipartUpload>'],
    [
      'wrong root',
      '<CompleteMultipartUploadResult><Part><PartNumber>1</PartNumber></Part></CompleteMultipartUploadResult>',
    ],
    ['truncated', '<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>e</ETag></Part>'],
  ])('refuses %s with MalformedXML', async (_name, body) => {
    expect(await codeOf(parseCompleteMultipartUpload(stream(body), LIMIT))).toBe('MalformedXML')
  })
})

describe('parseCreateBucketConfiguration', () => {
  it('empty or whitespace body means no configuration', async () => {
    expect(await parseCreateBucketConfiguration(null, LIMIT)).toEqual({})
    expect(await parseCreateBucketConfiguration(stream(''), LIMIT)).toEqual({})
    expect(await parseCreateBucketConfiguration(stream(' \r\n'), LIMIT)).toEqual({})
  })

  it('reads LocationConstraint, empty or not', async () => {
    const doc = (inner: string) => stream(`<CreateBucketConfiguration ${NS}>${inner}</CreateBucketConfiguration>`)
    expect(
      await parseCreateBucketConfiguration(doc('<LocationConstraint>eu-west-1</LocationConstraint>'), LIMIT),
    ).toEqual({ locationConstraint: 'eu-west-1' })
    expect(await parseCreateBucketConfiguration(doc('<LocationConstraint/>'), LIMIT)).toEqual({
      locationConstraint: '',
    })
    expect(await parseCreateBucketConfiguration(doc(''), LIMIT)).toEqual({})
  })

  it('refuses a wrong root or a repeated LocationConstraint', async () => {
    expect(await codeOf(parseCreateBucketConfiguration(stream('<Bucket/>'), LIMIT))).toBe('MalformedXML')
    expect(
      await codeOf(
        parseCreateBucketConfiguration(
          stream(
            '<CreateBucketConfiguration><LocationConstraint>a</LocationConstraint><LocationConstraint>b</LocationConstraint></CreateBucketConfiguration>',
          ),
          LIMIT,
        ),
      ),
    ).toBe('MalformedXML')
  })
})

describe('parseServerSideEncryptionConfiguration', () => {
  it('reads the default rule', async () => {
    const body =
      `<ServerSideEncryptionConfiguration ${NS}><Rule><ApplyServerSideEncryptionByDefault>` +
      '<SSEAlgorithm>aws:kms</SSEAlgorithm><KMSMasterKeyID>arn:k</KMSMasterKeyID></ApplyServerSideEncryptionByDefault>' +
      '<BucketKeyEnabled>true</BucketKeyEnabled></Rule></ServerSideEncryptionConfiguration>'
    expect(await parseServerSideEncryptionConfiguration(stream(body), LIMIT)).toEqual({
      algorithm: 'aws:kms',
      kmsMasterKeyId: 'arn:k',
      bucketKeyEnabled: true,
    })
  })

  it('refuses a configuration without exactly one rule or without an algorithm', async () => {
    for (const body of [
      '<ServerSideEncryptionConfiguration></ServerSideEncryptionConfiguration>',
      '<ServerSideEncryptionConfiguration><Rule><ApplyServerSideEncryptionByDefault></ApplyServerSideEncryptionByDefault></Rule></ServerSideEncryptionConfiguration>',
      '<ServerSideEncryptionConfiguration><Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>AES256</SSEAlgorithm></ApplyServerSideEncryptionByDefault></Rule>' +
        '<Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>AES256</SSEAlgorithm></ApplyServerSideEncryptionByDefault></Rule></ServerSideEncryptionConfiguration>',
    ])
      expect(await codeOf(parseServerSideEncryptionConfiguration(stream(body), LIMIT))).toBe('MalformedXML')
  })
})
