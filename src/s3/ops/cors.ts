/** Bucket CORS configuration: Get/Put/DeleteBucketCors (the rules are applied in handler.ts). */
import { deleteBucketCors, getBucketCors, putBucketCors } from '../../service/index.ts'
import { emptyResponse, type OpContext, xmlResponse } from '../context.ts'
import { validateCorsRules } from '../cors.ts'
import { S3Error } from '../errors.ts'
import { corsConfigurationXml, parseCorsConfiguration } from '../xml/documents.ts'

export async function handleGetBucketCors(op: OpContext): Promise<Response> {
  const rules = await getBucketCors(op.service, op.actor, op.bucket)
  if (rules === undefined) throw new S3Error('NoSuchCORSConfiguration', undefined, { BucketName: op.bucket })
  return xmlResponse(corsConfigurationXml(rules))
}

export async function handlePutBucketCors(op: OpContext): Promise<Response> {
  const rules = await parseCorsConfiguration(op.body().stream)
  validateCorsRules(rules)
  await putBucketCors(op.service, op.actor, op.bucket, rules)
  return emptyResponse(200)
}

export async function handleDeleteBucketCors(op: OpContext): Promise<Response> {
  await deleteBucketCors(op.service, op.actor, op.bucket)
  return emptyResponse(204)
}
