/**
 * IAM wildcards: `*` matches any run of characters (none included), `?` exactly one. Used for
 * actions (case-insensitive), resources and StringLike/ArnLike values (case-sensitive).
 */

/** True when `text` matches `pattern`. Linear-time greedy matching with one backtrack point. */
export function wildcardMatch(pattern: string, text: string, ignoreCase = false): boolean {
  const p = ignoreCase ? pattern.toLowerCase() : pattern
  const t = ignoreCase ? text.toLowerCase() : text
  let pi = 0
  let ti = 0
  let star = -1
  let mark = 0
  while (ti < t.length) {
    if (pi < p.length && (p[pi] === '?' || p[pi] === t[ti])) {
      pi++
      ti++
    } else if (pi < p.length && p[pi] === '*') {
      star = pi++
      mark = ti
    } else if (star >= 0) {
      pi = star + 1
      ti = ++mark
    } else return false
  }
  while (pi < p.length && p[pi] === '*') pi++
  return pi === p.length
}

export const hasWildcard = (s: string): boolean => s.includes('*') || s.includes('?')
