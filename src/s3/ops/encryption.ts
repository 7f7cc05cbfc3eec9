/**
 * Bucket encryption: Get/Put/DeleteBucketEncryption. The bucket's default (SSE-S3 or SSE-KMS)
 * is what writes without x-amz-server-side-encryption get; in a namespace with D@RE on, data is
 * encrypted whatever is set, and GetBucketEncryption reports SSE-S3 when nothing is.
 */
import { deleteBucketEncryption, getBucketEncryption, putBucketEncryption } from '../../service/index.ts'
import { emptyResponse, xmlResponse, type OpContext } from '../context.ts'
import { S3Error } from '../errors.ts'
import { parseServerSideEncryptionConfiguration } from '../xml/read.ts'
import { serverSideEncryptionConfigurationXml } from '../xml/documents.ts'

export async function handleGetBucketEncryption(op: OpContext): Promise<Response> {
  const config = await getBucketEncryption(op.service, op.actor, op.bucket)
  if (!config) throw new S3Error('ServerSideEncryptionConfigurationNotFoundError', undefined, { BucketName: op.bucket })
  return xmlResponse(
    serverSideEncryptionConfigurationXml({
      algorithm: config.algorithm,
      kmsMasterKeyId: config.kmsKeyId,
      bucketKeyEnabled: config.bucketKeyEnabled,
    }),
  )
}

export async function handlePutBucketEncryption(op: OpContext): Promise<Response> {
  const request = await parseServerSideEncryptionConfiguration(op.body().stream)
  const algorithm = request.algorithm
  if (algorithm !== 'AES256' && algorithm !== 'aws:kms' && algorithm !== 'aws:kms:dsse')
    throw new S3Error('MalformedXML')
  await putBucketEncryption(op.service, op.actor, op.bucket, {
    algorithm,
    kmsKeyId: request.kmsMasterKeyId || undefined,
    bucketKeyEnabled: request.bucketKeyEnabled,
  })
  return emptyResponse(200)
}

/** As on S3: the bucket goes back to the SSE-S3 default (or to none, in a namespace without D@RE). */
export async function handleDeleteBucketEncryption(op: OpContext): Promise<Response> {
  await deleteBucketEncryption(op.service, op.actor, op.bucket)
  return emptyResponse(204)
}
