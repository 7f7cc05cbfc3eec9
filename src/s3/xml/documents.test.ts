// Golden tests: each response document's exact text. Changing one is a wire change for clients.
import { describe, expect, it } from 'vitest'
import {
  bucketVersioningXml,
  completeMultipartUploadXml,
  copyObjectResultXml,
  copyPartResultXml,
  deleteResultXml,
  errorXml,
  initiateMultipartUploadXml,
  listAllMyBucketsXml,
  listMultipartUploadsXml,
  listObjectsV1Xml,
  listObjectsV2Xml,
  listPartsXml,
  locationConstraintXml,
  serverSideEncryptionConfigurationXml,
  urlEncodeListing,
} from './documents.ts'

const DECL = '<?xml version="1.0" encoding="UTF-8"?>\n'
const NS = 'xmlns="http://s3.amazonaws.com/doc/2006-03-01/"'
const T0 = new Date(Date.UTC(2025, 0, 1))
const T1 = new Date(Date.UTC(2025, 5, 30, 12, 34, 56, 789))
const OWNER = { id: 'owner-id', displayName: 'alice' }

describe('errorXml', () => {
  it('writes Code, Message, details, Resource, RequestId, HostId in that order, without a namespace', () => {
    expect(
      errorXml({
        code: 'NoSuchKey',
        message: 'The specified key does not exist.',
        resource: '/b/a&b',
        requestId: 'REQ1',
        hostId: 'HOST1',
        details: { Key: 'a&b', BucketName: 'b' },
      }),
    ).toBe(
      `${DECL}<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message>` +
        '<Key>a&amp;b</Key><BucketName>b</BucketName><Resource>/b/a&amp;b</Resource>' +
        '<RequestId>REQ1</RequestId><HostId>HOST1</HostId></Error>',
    )
  })

  it('omits optional parts and drops detail names that are not XML names or shadow fixed ones', () => {
    expect(
      errorXml({
        code: 'AccessDenied',
        message: `it's "denied" <now>`,
        requestId: 'R',
        details: { 'bad name': 'x', Code: 'Evil', RequestId: 'Evil' },
      }),
    ).toBe(
      `${DECL}<Error><Code>AccessDenied</Code><Message>it&apos;s &quot;denied&quot; &lt;now&gt;</Message>` +
        '<RequestId>R</RequestId></Error>',
    )
  })
})

describe('bucket documents', () => {
  it('listAllMyBucketsXml', () => {
    expect(
      listAllMyBucketsXml({
        owner: OWNER,
        buckets: [
          { name: 'a', creationDate: T0, region: 'eu-west-1' },
          { name: 'b', creationDate: T1 },
        ],
        continuationToken: 'tok',
        prefix: '',
      }),
    ).toBe(
      `${DECL}<ListAllMyBucketsResult ${NS}><Owner><ID>owner-id</ID><DisplayName>alice</DisplayName></Owner>` +
        '<Buckets><Bucket><Name>a</Name><CreationDate>2025-01-01T00:00:00.000Z</CreationDate><BucketRegion>eu-west-1</BucketRegion></Bucket>' +
        '<Bucket><Name>b</Name><CreationDate>2025-06-30T12:34:56.789Z</CreationDate></Bucket></Buckets>' +
        '<ContinuationToken>tok</ContinuationToken><Prefix></Prefix></ListAllMyBucketsResult>',
    )
  })

  it('listAllMyBucketsXml with no buckets and no display name', () => {
    expect(listAllMyBucketsXml({ owner: { id: 'o' }, buckets: [] })).toBe(
      `${DECL}<ListAllMyBucketsResult ${NS}><Owner><ID>o</ID></Owner><Buckets></Buckets></ListAllMyBucketsResult>`,
    )
  })

  it('locationConstraintXml: us-east-1 is an empty element, other regions are text', () => {
    expect(locationConstraintXml('us-east-1')).toBe(`${DECL}<LocationConstraint ${NS}/>`)
    expect(locationConstraintXml('eu-central-1')).toBe(
      `${DECL}<LocationConstraint ${NS}>eu-central-1</LocationConstraint>`,
    )
  })

  it('bucketVersioningXml: empty for a never-versioned bucket, else Status', () => {
    expect(bucketVersioningXml()).toBe(`${DECL}<VersioningConfiguration ${NS}/>`)
    expect(bucketVersioningXml('Suspended')).toBe(
      `${DECL}<VersioningConfiguration ${NS}><Status>Suspended</Status></VersioningConfiguration>`,
    )
  })

  it('serverSideEncryptionConfigurationXml defaults to AES256', () => {
    expect(serverSideEncryptionConfigurationXml()).toBe(
      `${DECL}<ServerSideEncryptionConfiguration ${NS}><Rule>` +
        '<ApplyServerSideEncryptionByDefault><SSEAlgorithm>AES256</SSEAlgorithm></ApplyServerSideEncryptionByDefault>' +
        '<BucketKeyEnabled>false</BucketKeyEnabled></Rule></ServerSideEncryptionConfiguration>',
    )
  })
})

describe('listings', () => {
  const obj = { key: ' sp<a&b>"q\'\u0001日本 ', lastModified: T1, etag: '"0cc175b9c0f1b6a831c399e269772661"', size: 1 }

  // Keys are escaped as everywhere (quotes too); an entry's ETag is element text with its quotes as they are.
  it('listObjectsV2Xml: escaping, optional elements, KeyCount counts prefixes too', () => {
    expect(
      listObjectsV2Xml({
        name: 'bk',
        prefix: '',
        delimiter: '/',
        maxKeys: 1000,
        isTruncated: true,
        continuationToken: 'c1',
        nextContinuationToken: 'c2',
        startAfter: 's',
        contents: [
          obj,
          {
            key: '1e3',
            lastModified: T0,
            etag: '"e-2"',
            size: 10n,
            storageClass: 'STANDARD_IA',
            checksumAlgorithm: 'CRC64NVME',
            checksumType: 'FULL_OBJECT',
            owner: OWNER,
          },
        ],
        commonPrefixes: ['dir/', 'a&b/'],
      }),
    ).toBe(
      `${DECL}<ListBucketResult ${NS}><Name>bk</Name><Prefix></Prefix><ContinuationToken>c1</ContinuationToken>` +
        '<NextContinuationToken>c2</NextContinuationToken><StartAfter>s</StartAfter><KeyCount>4</KeyCount>' +
        '<MaxKeys>1000</MaxKeys><Delimiter>/</Delimiter><IsTruncated>true</IsTruncated>' +
        '<Contents><Key> sp&lt;a&amp;b&gt;&quot;q&apos;&#x1;日本 </Key><LastModified>2025-06-30T12:34:56.789Z</LastModified>' +
        '<ETag>"0cc175b9c0f1b6a831c399e269772661"</ETag><Size>1</Size><StorageClass>STANDARD</StorageClass></Contents>' +
        '<Contents><Key>1e3</Key><LastModified>2025-01-01T00:00:00.000Z</LastModified><ETag>"e-2"</ETag>' +
        '<ChecksumAlgorithm>CRC64NVME</ChecksumAlgorithm><ChecksumType>FULL_OBJECT</ChecksumType><Size>10</Size>' +
        '<Owner><ID>owner-id</ID><DisplayName>alice</DisplayName></Owner><StorageClass>STANDARD_IA</StorageClass></Contents>' +
        '<CommonPrefixes><Prefix>dir/</Prefix></CommonPrefixes><CommonPrefixes><Prefix>a&amp;b/</Prefix></CommonPrefixes>' +
        '</ListBucketResult>',
    )
  })

  it('listObjectsV2Xml: an empty bucket with encoding-type', () => {
    expect(
      listObjectsV2Xml({
        name: 'bk',
        prefix: 'p%20',
        maxKeys: 0,
        encodingType: 'url',
        isTruncated: false,
        contents: [],
        commonPrefixes: [],
      }),
    ).toBe(
      `${DECL}<ListBucketResult ${NS}><Name>bk</Name><Prefix>p%20</Prefix><KeyCount>0</KeyCount><MaxKeys>0</MaxKeys>` +
        '<EncodingType>url</EncodingType><IsTruncated>false</IsTruncated></ListBucketResult>',
    )
  })

  it('listObjectsV1Xml: Owner always, NextMarker only with a delimiter on a truncated page', () => {
    const base = {
      name: 'bk',
      prefix: 'p',
      marker: '',
      maxKeys: 1,
      isTruncated: true,
      nextMarker: 'k',
      contents: [{ ...obj, key: 'k', owner: OWNER }],
      commonPrefixes: [] as string[],
    }
    const contents =
      '<Contents><Key>k</Key><LastModified>2025-06-30T12:34:56.789Z</LastModified>' +
      '<ETag>"0cc175b9c0f1b6a831c399e269772661"</ETag><Size>1</Size>' +
      '<Owner><ID>owner-id</ID><DisplayName>alice</DisplayName></Owner><StorageClass>STANDARD</StorageClass></Contents>'
    expect(listObjectsV1Xml(base)).toBe(
      `${DECL}<ListBucketResult ${NS}><Name>bk</Name><Prefix>p</Prefix><Marker></Marker>` +
        `<MaxKeys>1</MaxKeys><IsTruncated>true</IsTruncated>${contents}</ListBucketResult>`,
    )
    expect(listObjectsV1Xml({ ...base, delimiter: '/', commonPrefixes: ['p/'] })).toBe(
      `${DECL}<ListBucketResult ${NS}><Name>bk</Name><Prefix>p</Prefix><Marker></Marker><NextMarker>k</NextMarker>` +
        `<MaxKeys>1</MaxKeys><Delimiter>/</Delimiter><IsTruncated>true</IsTruncated>${contents}` +
        '<CommonPrefixes><Prefix>p/</Prefix></CommonPrefixes></ListBucketResult>',
    )
    expect(listObjectsV1Xml({ ...base, delimiter: '/', isTruncated: false })).not.toContain('NextMarker')
  })

  it('urlEncodeListing encodes like S3 (space %20, plus %2B, slash kept, UTF-8 bytes)', () => {
    expect(urlEncodeListing('quux ab/')).toBe('quux%20ab/')
    expect(urlEncodeListing('foo+1/bar')).toBe('foo%2B1/bar')
    expect(urlEncodeListing("a~b-c_d.e*f!g'h(i)")).toBe('a~b-c_d.e%2Af%21g%27h%28i%29')
    expect(urlEncodeListing('\u0001日&<')).toBe('%01%E6%97%A5%26%3C')
  })
})

describe('copy and multipart documents', () => {
  it('copyObjectResultXml and copyPartResultXml', () => {
    expect(
      copyObjectResultXml({
        etag: '"e"',
        lastModified: T0,
        checksumType: 'FULL_OBJECT',
        checksum: { algorithm: 'CRC32C', value: 'yZRlqg==' },
      }),
    ).toBe(
      `${DECL}<CopyObjectResult ${NS}><LastModified>2025-01-01T00:00:00.000Z</LastModified><ETag>&quot;e&quot;</ETag>` +
        '<ChecksumType>FULL_OBJECT</ChecksumType><ChecksumCRC32C>yZRlqg==</ChecksumCRC32C></CopyObjectResult>',
    )
    expect(copyPartResultXml({ etag: '"p"', lastModified: T1 })).toBe(
      `${DECL}<CopyPartResult ${NS}><LastModified>2025-06-30T12:34:56.789Z</LastModified><ETag>&quot;p&quot;</ETag></CopyPartResult>`,
    )
  })

  it('initiateMultipartUploadXml', () => {
    expect(initiateMultipartUploadXml({ bucket: 'b', key: 'dir/a b&c', uploadId: 'U1' })).toBe(
      `${DECL}<InitiateMultipartUploadResult ${NS}><Bucket>b</Bucket><Key>dir/a b&amp;c</Key><UploadId>U1</UploadId></InitiateMultipartUploadResult>`,
    )
  })

  it('completeMultipartUploadXml with and without a checksum', () => {
    expect(completeMultipartUploadXml({ location: 'https://h/b/k', bucket: 'b', key: 'k', etag: '"x-2"' })).toBe(
      `${DECL}<CompleteMultipartUploadResult ${NS}><Location>https://h/b/k</Location><Bucket>b</Bucket><Key>k</Key>` +
        '<ETag>&quot;x-2&quot;</ETag></CompleteMultipartUploadResult>',
    )
    expect(
      completeMultipartUploadXml({
        location: 'l',
        bucket: 'b',
        key: 'k',
        etag: '"x-2"',
        checksum: { algorithm: 'SHA256', value: 'abc=', type: 'COMPOSITE' },
      }),
    ).toBe(
      `${DECL}<CompleteMultipartUploadResult ${NS}><Location>l</Location><Bucket>b</Bucket><Key>k</Key>` +
        '<ETag>&quot;x-2&quot;</ETag><ChecksumSHA256>abc=</ChecksumSHA256><ChecksumType>COMPOSITE</ChecksumType></CompleteMultipartUploadResult>',
    )
  })

  it('listPartsXml', () => {
    expect(
      listPartsXml({
        bucket: 'b',
        key: 'k',
        uploadId: 'U',
        partNumberMarker: 0,
        nextPartNumberMarker: 2,
        maxParts: 2,
        isTruncated: true,
        initiator: OWNER,
        owner: { id: 'o2' },
        checksumAlgorithm: 'CRC32',
        checksumType: 'COMPOSITE',
        parts: [
          {
            partNumber: 1,
            lastModified: T0,
            etag: '"a"',
            size: 5242880,
            checksums: [{ algorithm: 'CRC32', value: 'AAAAAA==' }],
          },
          {
            partNumber: 2,
            lastModified: T1,
            etag: '"b"',
            size: 1,
            checksum: { algorithm: 'CRC32', value: 'BBBBBB==' },
          },
        ],
      }),
    ).toBe(
      `${DECL}<ListPartsResult ${NS}><Bucket>b</Bucket><Key>k</Key><UploadId>U</UploadId>` +
        '<Initiator><ID>owner-id</ID><DisplayName>alice</DisplayName></Initiator><Owner><ID>o2</ID></Owner>' +
        '<StorageClass>STANDARD</StorageClass><PartNumberMarker>0</PartNumberMarker><NextPartNumberMarker>2</NextPartNumberMarker>' +
        '<MaxParts>2</MaxParts><IsTruncated>true</IsTruncated>' +
        '<Part><PartNumber>1</PartNumber><LastModified>2025-01-01T00:00:00.000Z</LastModified><ETag>&quot;a&quot;</ETag>' +
        '<Size>5242880</Size><ChecksumCRC32>AAAAAA==</ChecksumCRC32></Part>' +
        '<Part><PartNumber>2</PartNumber><LastModified>2025-06-30T12:34:56.789Z</LastModified><ETag>&quot;b&quot;</ETag>' +
        '<Size>1</Size><ChecksumCRC32>BBBBBB==</ChecksumCRC32></Part><ChecksumAlgorithm>CRC32</ChecksumAlgorithm><ChecksumType>COMPOSITE</ChecksumType></ListPartsResult>',
    )
  })

  it('listMultipartUploadsXml', () => {
    expect(
      listMultipartUploadsXml({
        bucket: 'b',
        keyMarker: '',
        uploadIdMarker: '',
        nextKeyMarker: 'k<',
        nextUploadIdMarker: 'U',
        delimiter: '/',
        prefix: '',
        maxUploads: 1000,
        isTruncated: false,
        commonPrefixes: ['d/'],
        encodingType: 'url',
        uploads: [{ key: 'k<', uploadId: 'U', initiator: OWNER, owner: OWNER, initiated: T0 }],
      }),
    ).toBe(
      `${DECL}<ListMultipartUploadsResult ${NS}><Bucket>b</Bucket><KeyMarker></KeyMarker><UploadIdMarker></UploadIdMarker>` +
        '<NextKeyMarker>k&lt;</NextKeyMarker><Prefix></Prefix><Delimiter>/</Delimiter><NextUploadIdMarker>U</NextUploadIdMarker>' +
        '<MaxUploads>1000</MaxUploads><EncodingType>url</EncodingType><IsTruncated>false</IsTruncated>' +
        '<Upload><Key>k&lt;</Key><UploadId>U</UploadId><Initiator><ID>owner-id</ID><DisplayName>alice</DisplayName></Initiator>' +
        '<Owner><ID>owner-id</ID><DisplayName>alice</DisplayName></Owner><StorageClass>STANDARD</StorageClass>' +
        '<Initiated>2025-01-01T00:00:00.000Z</Initiated></Upload><CommonPrefixes><Prefix>d/</Prefix></CommonPrefixes>' +
        '</ListMultipartUploadsResult>',
    )
  })

  it('listMultipartUploadsXml writes absent next markers as empty elements', () => {
    expect(
      listMultipartUploadsXml({
        bucket: 'b',
        keyMarker: '',
        uploadIdMarker: '',
        prefix: '',
        maxUploads: 1000,
        isTruncated: false,
        commonPrefixes: [],
        uploads: [],
      }),
    ).toBe(
      `${DECL}<ListMultipartUploadsResult ${NS}><Bucket>b</Bucket><KeyMarker></KeyMarker><UploadIdMarker></UploadIdMarker>` +
        '<NextKeyMarker></NextKeyMarker><Prefix></Prefix><NextUploadIdMarker></NextUploadIdMarker><MaxUploads>1000</MaxUploads>' +
        '<IsTruncated>false</IsTruncated></ListMultipartUploadsResult>',
    )
  })

  it('deleteResultXml, verbose and quiet', () => {
    expect(
      deleteResultXml({
        deleted: [{ key: 'a' }, { key: 'b', versionId: 'v', deleteMarker: true, deleteMarkerVersionId: 'dm' }],
        errors: [{ key: 'c&', code: 'AccessDenied', message: 'Access Denied' }],
      }),
    ).toBe(
      `${DECL}<DeleteResult ${NS}><Deleted><Key>a</Key></Deleted>` +
        '<Deleted><Key>b</Key><VersionId>v</VersionId><DeleteMarker>true</DeleteMarker><DeleteMarkerVersionId>dm</DeleteMarkerVersionId></Deleted>' +
        '<Error><Key>c&amp;</Key><Code>AccessDenied</Code><Message>Access Denied</Message></Error></DeleteResult>',
    )
    expect(deleteResultXml({ deleted: [], errors: [] })).toBe(`${DECL}<DeleteResult ${NS}></DeleteResult>`)
  })
})
