/**
 * Type guards for JSON read back from storage (metadata columns, settings): each layer checks the
 * values it owns with these once, where they enter it, instead of casting. Pure; no imports.
 */

export const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v)

export const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0

/** An object whose every value is a string (stored headers, user metadata). */
export const isStringMap = (v: unknown): v is Record<string, string> =>
  isRecord(v) && Object.values(v).every((x) => typeof x === 'string')

/** A short, safe description of a malformed value for an error message (no more than 80 characters). */
export function describeValue(v: unknown): string {
  let text: string
  try {
    text = JSON.stringify(v) ?? String(v)
  } catch {
    text = String(v)
  }
  return text.length > 80 ? `${text.slice(0, 77)}...` : text
}
