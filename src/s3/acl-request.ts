/**
 * The ACL a request's headers ask for: `x-amz-acl` (canned) or the `x-amz-grant-*` lists, as the
 * service's AclRequest; undefined when it sends none. Grant syntax errors are S3's errors.
 */
import { AclError, grantsFromHeaders } from '../policy/index.ts'
import type { AclRequest } from '../service/index.ts'
import { S3Error, type S3ErrorCode } from './errors.ts'

export function aclRequestOf(headers: Headers): AclRequest | undefined {
  const canned = headers.get('x-amz-acl') ?? undefined
  let grants: AclRequest['grants']
  try {
    grants = grantsFromHeaders((n) => headers.get(n))
  } catch (e) {
    if (e instanceof AclError) throw new S3Error(e.code as S3ErrorCode, e.message)
    throw e
  }
  if (canned === undefined && grants === undefined) return undefined
  return { ...(canned !== undefined ? { canned } : {}), ...(grants ? { grants } : {}) }
}
