/**
 * Preconditions on an existing object (RFC 9110 §13 as S3 applies them): If-Match and
 * If-Unmodified-Since fail with 412; If-None-Match and If-Modified-Since give 304 on reads.
 */

export interface ReadConditions {
  ifMatch?: string
  ifNoneMatch?: string
  ifModifiedSince?: Date
  ifUnmodifiedSince?: Date
}

export type ConditionOutcome = 'ok' | 'not-modified' | 'failed'

/** Compares against a list of entity tags as sent (`"a", "b"`, `*`, quotes optional). */
export function etagMatches(header: string, etag: string): boolean {
  const bare = etag.replace(/^"|"$/g, '')
  return header.split(',').some((t) => {
    const tag = t.trim().replace(/^W\//, '').replace(/^"|"$/g, '')
    return tag === '*' || tag === bare
  })
}

/** HTTP dates have second precision: compare whole seconds. */
const seconds = (d: Date): number => Math.floor(d.getTime() / 1000)

/**
 * S3's precedence: If-Match true overrides a false If-Unmodified-Since; If-None-Match false
 * overrides a true If-Modified-Since. Failures (412) are decided before 304s.
 */
export function evaluateConditions(c: ReadConditions, etag: string, lastModified: Date): ConditionOutcome {
  if (c.ifMatch !== undefined) {
    if (!etagMatches(c.ifMatch, etag)) return 'failed'
  } else if (c.ifUnmodifiedSince && seconds(lastModified) > seconds(c.ifUnmodifiedSince)) {
    return 'failed'
  }
  if (c.ifNoneMatch !== undefined) {
    if (etagMatches(c.ifNoneMatch, etag)) return 'not-modified'
  } else if (c.ifModifiedSince && seconds(lastModified) <= seconds(c.ifModifiedSince)) {
    return 'not-modified'
  }
  return 'ok'
}
