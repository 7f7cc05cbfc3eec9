/**
 * How the soak reads an SDK answer: a clear refusal (a 4xx, or a connection refused: nothing
 * changed), a lost answer (the
 * connection died, a timeout, a 5xx: the change may or may not have happened), or a 500, which is a
 * failure in itself and is recorded with its request id.
 */
import type { Outcome, Tally } from './tally.ts'

export interface Refusal {
  outcome: Exclude<Outcome, 'ok'>
  status?: number
  code: string
  message: string
  requestId: string
}

type SdkError = {
  name?: string
  Code?: string
  code?: string
  message?: unknown
  $metadata?: { httpStatusCode?: number; requestId?: string; extendedRequestId?: string }
  $response?: { headers?: Record<string, string> }
}

export function classify(raw: unknown): Refusal {
  const e: SdkError = typeof raw === 'object' && raw !== null ? (raw as SdkError) : {}
  const status = e.$metadata?.httpStatusCode
  const code = e.code === 'ECONNREFUSED' ? 'ECONNREFUSED' : (e.name ?? e.Code ?? e.code ?? 'Error')
  const message = String(e.message ?? raw)
  const requestId = e.$metadata?.requestId ?? e.$response?.headers?.['x-amz-request-id'] ?? 'none'
  // A 4xx is the server saying no before it changed anything, and a refused connection never
  // reached it; anything else (reset, timeout, 5xx) may have happened.
  const refused = (status !== undefined && status >= 400 && status < 500) || e.code === 'ECONNREFUSED'
  return { outcome: refused ? 'rejected' : 'uncertain', status, code, message, requestId }
}

export type Answer<T> = { ok: true; value: T } | ({ ok: false } & Refusal)

/** Runs one SDK call; counts it; records a 500. Never throws. */
export async function attempt<T>(
  tally: Tally,
  op: string,
  target: string,
  call: () => Promise<T>,
  count = true,
): Promise<Answer<T>> {
  try {
    const value = await call()
    if (count) tally.op(op, 'ok')
    return { ok: true, value }
  } catch (raw) {
    const r = classify(raw)
    if (r.status === 500) tally.serverError(op, target, r.requestId, `${r.code}: ${r.message}`)
    if (count) tally.op(op, r.outcome)
    if (tally.verbose && r.outcome === 'uncertain')
      console.error(
        `soak ${tally.seconds()}s lost answer: ${op} ${target}: ${r.status ?? 'no answer'} ${r.code} ${r.message.slice(0, 120)}`,
      )
    return { ok: false, ...r }
  }
}
