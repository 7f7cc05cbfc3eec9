/**
 * S3 tagging rules, pure: how many tags an object version or a bucket may carry, how long keys
 * and values may be (in Unicode characters, not bytes), and the error AWS answers for each
 * breach. The tag sets themselves live on the version row (`objects.tags`), the upload row
 * until completion, and the bucket row (docs/formats.md §4).
 */
import { ServiceError } from './errors.ts'

export interface Tag {
  key: string
  value: string
}

export const MAX_OBJECT_TAGS = 10
export const MAX_BUCKET_TAGS = 50
export const MAX_TAG_KEY_CHARS = 128
export const MAX_TAG_VALUE_CHARS = 256

/** Where a tag set came from: AWS answers some breaches differently for the x-amz-tagging header. */
export type TagSource = 'document' | 'header'

const chars = (s: string): number => [...s].length
const invalidTag = (message: string) => new ServiceError('InvalidTag', message)

/**
 * Checks an object's tag set as AWS does; returns it unchanged. A PutObjectTagging document with
 * too many tags is InvalidTag, the same count in x-amz-tagging is BadRequest; a duplicate key in
 * the header is InvalidArgument (its documented encoding has no duplicates), in a document
 * InvalidTag.
 */
export function checkObjectTags(tags: readonly Tag[], source: TagSource): Tag[] {
  if (tags.length > MAX_OBJECT_TAGS) {
    const message = `Object tags cannot be greater than ${MAX_OBJECT_TAGS}`
    throw source === 'header' ? new ServiceError('BadRequest', message) : invalidTag(message)
  }
  if (source === 'header' && new Set(tags.map((t) => t.key)).size !== tags.length)
    throw new ServiceError(
      'InvalidArgument',
      "The header 'x-amz-tagging' shall be encoded as UTF-8 then URLEncoded URL query parameters without tag name duplicates.",
    )
  return checkTagSet(tags)
}

/** A bucket's tag set (PutBucketTagging): at most 50, the same key and value rules. */
export function checkBucketTags(tags: readonly Tag[]): Tag[] {
  if (tags.length > MAX_BUCKET_TAGS) throw invalidTag(`Bucket tag count cannot be greater than ${MAX_BUCKET_TAGS}`)
  return checkTagSet(tags)
}

function checkTagSet(tags: readonly Tag[]): Tag[] {
  const seen = new Set<string>()
  for (const { key, value } of tags) {
    if (key === '') throw invalidTag('The TagKey you have provided is invalid')
    if (chars(key) > MAX_TAG_KEY_CHARS)
      throw invalidTag(`The TagKey you have provided is too long, max ${MAX_TAG_KEY_CHARS}`)
    if (chars(value) > MAX_TAG_VALUE_CHARS)
      throw invalidTag(`The TagValue you have provided is too long, max ${MAX_TAG_VALUE_CHARS}`)
    // AWS reserves the aws: prefix for its own tags.
    if (key.toLowerCase().startsWith('aws:')) throw invalidTag('Your TagKey cannot be prefixed with aws:')
    if (seen.has(key)) throw invalidTag('Cannot provide multiple Tags with the same key')
    seen.add(key)
  }
  return tags.map((t) => ({ key: t.key, value: t.value }))
}
