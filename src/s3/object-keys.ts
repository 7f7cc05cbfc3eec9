/**
 * What an object key (or a key-shaped listing parameter) may hold, checked in the S3 layer before
 * anything else happens — in particular before a request body is read, so a refused key never
 * leaves shards behind for the orphan sweep.
 *
 * S3 takes any UTF-8 up to 1,024 bytes. Coffer refuses one character more: U+0000 (NUL). libSQL
 * reads TEXT back only up to a NUL (src/meta/errors.ts), and XML 1.0 cannot carry it even as a
 * reference, so such a key could be neither stored faithfully nor listed. Invalid UTF-8 never gets
 * this far: the URL decoder refuses it (endpoints.ts), the XML reader too (xml/tree.ts).
 */
import { utf8 } from '../util/bytes.ts'
import { S3Error } from './errors.ts'

/** S3 caps keys at 1,024 bytes of UTF-8. */
export const MAX_KEY_BYTES = 1024

const NUL_MESSAGE = 'Object key names must not contain the NUL character (U+0000): Coffer cannot store such a key.'

/**
 * Throws the S3 error for a key Coffer cannot take: KeyTooLongError past 1,024 bytes,
 * InvalidArgument for a NUL. `argument` names where the key came from when not the URL path
 * (e.g. `x-amz-copy-source`).
 */
export function checkObjectKey(key: string, argument?: string): void {
  const bytes = utf8(key).length
  if (bytes > MAX_KEY_BYTES)
    throw new S3Error('KeyTooLongError', undefined, {
      Size: String(bytes),
      MaxSizeAllowed: String(MAX_KEY_BYTES),
      ...(argument ? { ArgumentName: argument } : {}),
    })
  if (key.includes('\u0000')) throw new S3Error('InvalidArgument', NUL_MESSAGE, { ArgumentName: argument ?? 'key' })
}

/**
 * Listing parameters that are keys or parts of keys (prefix, delimiter, start-after, marker,
 * key-marker): a NUL could never match a stored key and cannot be echoed in the XML answer.
 * The value is not echoed in the error either, for the same reason.
 */
export function checkKeyParameter(query: URLSearchParams, name: string): void {
  if (query.get(name)?.includes('\u0000'))
    throw new S3Error('InvalidArgument', `The ${name} parameter must not contain the NUL character (U+0000).`, {
      ArgumentName: name,
    })
}
