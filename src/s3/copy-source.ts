/**
 * `x-amz-copy-source` → the source bucket and key, checked like a request's own key, and its query
 * (`?versionId=`). One parser for the authorization step (a copy needs read on its source) and for
 * ops/copy.ts, which reads the version id from the query.
 */
import { S3Error } from './errors.ts'
import { checkObjectKey } from './object-keys.ts'

export interface CopySourceAddress {
  bucket: string
  key: string
  /** What followed `?`, when anything did. */
  query?: URLSearchParams
}

export function parseCopySource(header: string): CopySourceAddress {
  const [path, query] = header.split('?', 2) as [string, string | undefined]
  let decoded: string
  try {
    decoded = decodeURIComponent(path)
  } catch {
    throw new S3Error('InvalidArgument', 'Invalid copy source encoding.', { ArgumentName: 'x-amz-copy-source' })
  }
  const trimmed = decoded.startsWith('/') ? decoded.slice(1) : decoded
  const slash = trimmed.indexOf('/')
  if (slash <= 0 || slash === trimmed.length - 1) {
    throw new S3Error('InvalidArgument', 'Copy Source must mention the source bucket and key: sourcebucket/sourcekey', {
      ArgumentName: 'x-amz-copy-source',
    })
  }
  const key = trimmed.slice(slash + 1)
  checkObjectKey(key, 'x-amz-copy-source')
  return { bucket: trimmed.slice(0, slash), key, ...(query !== undefined ? { query: new URLSearchParams(query) } : {}) }
}
