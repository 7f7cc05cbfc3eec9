/**
 * `x-amz-copy-source` → the source bucket and key, checked like a request's own key, for the
 * authorization step (a copy needs read on its source; ops/copy.ts reads the version id too).
 */
import { S3Error } from './errors.ts'
import { checkObjectKey } from './object-keys.ts'

export function parseCopySource(header: string): { bucket: string; key: string } {
  const [path] = header.split('?', 2) as [string]
  // A ?versionId= is read by the copy itself; here only the object the copy reads from matters.
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
  return { bucket: trimmed.slice(0, slash), key }
}
