/**
 * Bucket encryption: Get/Put/DeleteBucketEncryption. Encryption is a namespace property (D@RE,
 * set by the operator), so these report it and accept only requests that agree with it.
 */
import { bucketEncryption } from '../../service/index.ts'
import { emptyResponse, xmlResponse, type OpContext } from '../context.ts'
import { S3Error } from '../errors.ts'
import { parseServerSideEncryptionConfiguration } from '../xml/read.ts'
import { serverSideEncryptionConfigurationXml } from '../xml/documents.ts'

export async function handleGetBucketEncryption(op: OpContext): Promise<Response> {
  const enc = await bucketEncryption(op.service, op.actor, op.bucket)
  if (!enc.encrypted)
    throw new S3Error('ServerSideEncryptionConfigurationNotFoundError', undefined, { BucketName: op.bucket })
  return xmlResponse(serverSideEncryptionConfigurationXml({ algorithm: 'AES256' }))
}

export async function handlePutBucketEncryption(op: OpContext): Promise<Response> {
  const enc = await bucketEncryption(op.service, op.actor, op.bucket)
  const request = await parseServerSideEncryptionConfiguration(op.body().stream)
  if (request.algorithm !== 'AES256') {
    throw new S3Error(
      'InvalidArgument',
      `${request.algorithm} is not offered: buckets are encrypted with AES256 (SSE-S3) when their namespace has D@RE on, which the operator decides.`,
      { ArgumentName: 'SSEAlgorithm', ArgumentValue: request.algorithm },
    )
  }
  if (!enc.encrypted) {
    throw new S3Error(
      'InvalidRequest',
      `Namespace ${enc.namespace} stores data without encryption and cannot be switched per bucket; the operator creates namespaces with D@RE on.`,
    )
  }
  return emptyResponse(200)
}

/**
 * As on S3, where deleting the configuration returns a bucket to the SSE-S3 default: a bucket
 * of an encrypted namespace stays encrypted, so this changes nothing.
 */
export async function handleDeleteBucketEncryption(op: OpContext): Promise<Response> {
  await bucketEncryption(op.service, op.actor, op.bucket)
  return emptyResponse(204)
}
