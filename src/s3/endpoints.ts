/**
 * Addressing: which bucket and key a request names, from path-style (`/bucket/key`) or
 * virtual-hosted-style (`bucket.<domain>/key`) URLs. Pure; no I/O.
 */

export interface Target {
  /** undefined for service-level requests (ListBuckets). */
  bucket?: string
  /** undefined for bucket-level requests; may be '' only for a bare trailing slash. */
  key?: string
  /** Path exactly as received (percent-encoded): SigV4 signs this, not the decoded key. */
  rawPath: string
  rawQuery: string
}

/** Splits `req.url` without letting the WHATWG parser re-encode the path. */
export function splitUrl(url: string): { rawPath: string; rawQuery: string } {
  const afterScheme = url.indexOf('://')
  const pathStart = afterScheme >= 0 ? url.indexOf('/', afterScheme + 3) : 0
  if (pathStart < 0) return { rawPath: '/', rawQuery: '' }
  const rest = url.slice(pathStart)
  const q = rest.indexOf('?')
  const hash = rest.indexOf('#')
  const pathEnd = q >= 0 ? q : hash >= 0 ? hash : rest.length
  const rawPath = rest.slice(0, pathEnd) || '/'
  const rawQuery = q >= 0 ? rest.slice(q + 1, hash > q ? hash : undefined) : ''
  return { rawPath, rawQuery }
}

function decodeSegment(s: string): string | undefined {
  try {
    return decodeURIComponent(s)
  } catch {
    return undefined
  }
}

/** The bucket a virtual-hosted-style Host names (`b.<domain>`), or undefined (path-style). */
export function hostBucket(host: string | null, domain?: string): string | undefined {
  if (!domain) return undefined
  const hostname = (host ?? '').replace(/:\d+$/, '').toLowerCase()
  const suffix = `.${domain.toLowerCase()}`
  return hostname.endsWith(suffix) && hostname.length > suffix.length ? hostname.slice(0, -suffix.length) : undefined
}

/**
 * Resolves bucket and key. `domain` enables virtual-hosted-style: a Host of `b.<domain>` names
 * bucket `b`; the bare domain (or any other host) falls back to path-style.
 * Returns undefined when the path is not valid percent-encoding.
 */
export function resolveTarget(url: string, host: string | null, domain?: string): Target | undefined {
  const { rawPath, rawQuery } = splitUrl(url)
  const hosted = hostBucket(host, domain)
  if (hosted !== undefined) {
    const rest = rawPath.slice(1)
    const key = rest === '' ? undefined : decodeSegment(rest)
    if (rest !== '' && key === undefined) return undefined
    return { bucket: hosted, key, rawPath, rawQuery }
  }
  const path = rawPath.slice(1)
  if (path === '') return { rawPath, rawQuery }
  const slash = path.indexOf('/')
  const bucketRaw = slash < 0 ? path : path.slice(0, slash)
  const bucket = decodeSegment(bucketRaw)
  if (bucket === undefined) return undefined
  if (slash < 0 || slash === path.length - 1) return { bucket, rawPath, rawQuery }
  const key = decodeSegment(path.slice(slash + 1))
  if (key === undefined) return undefined
  return { bucket, key, rawPath, rawQuery }
}
