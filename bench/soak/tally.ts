/**
 * What a soak run counts and reports: operations by kind and outcome, faults by kind, checks made,
 * failures (each with what to look at), and every 500 with its request id.
 */

/** How an operation ended, as the model sees it. */
export type Outcome = 'ok' | 'rejected' | 'uncertain'

export interface Failure {
  /** Seconds since the start of the run. */
  at: number
  what: string
  detail: string
}

export interface ServerError {
  at: number
  op: string
  target: string
  requestId: string
  message: string
}

export class Tally {
  readonly started = Date.now()
  readonly ops = new Map<string, Record<Outcome, number>>()
  readonly faults = new Map<string, number>()
  checks = 0
  readonly failures: Failure[] = []
  readonly serverErrors: ServerError[] = []
  verbose = false

  seconds(): number {
    return Math.round((Date.now() - this.started) / 100) / 10
  }

  op(kind: string, outcome: Outcome): void {
    const row = this.ops.get(kind) ?? { ok: 0, rejected: 0, uncertain: 0 }
    row[outcome]++
    this.ops.set(kind, row)
  }

  fault(kind: string, detail: string): void {
    this.faults.set(kind, (this.faults.get(kind) ?? 0) + 1)
    if (this.verbose) console.error(`soak ${this.seconds()}s fault ${kind}: ${detail}`)
  }

  /** One check made; when `ok` is false a failure is recorded. Returns `ok`. */
  check(ok: boolean, what: string, detail: () => string): boolean {
    this.checks++
    if (!ok) this.fail(what, detail())
    return ok
  }

  fail(what: string, detail: string): void {
    this.failures.push({ at: this.seconds(), what, detail })
    if (this.verbose) console.error(`soak ${this.seconds()}s FAILURE ${what}: ${detail}`)
  }

  /** A 500 answer is a failure in itself: the server did not know what went wrong. */
  serverError(op: string, target: string, requestId: string, message: string): void {
    this.serverErrors.push({ at: this.seconds(), op, target, requestId, message })
    this.fail('500 InternalError', `${op} ${target} request id ${requestId}: ${message}`)
  }

  /** The end-of-run report, plain text. */
  report(seed: number, commandLine: string): string {
    const lines: string[] = []
    const total = (r: Record<Outcome, number>) => r.ok + r.rejected + r.uncertain
    const opRows = [...this.ops.entries()].sort(([a], [b]) => a.localeCompare(b))
    const sum = opRows.reduce((s, [, r]) => s + total(r), 0)
    lines.push(`soak: seed ${seed} — replay with: ${commandLine}`)
    lines.push(`soak: ran ${this.seconds()} s`)
    lines.push(
      `operations: ${sum} (ok / not done: a 4xx or a refused connection / uncertain: the answer was lost to a fault)`,
    )
    for (const [k, r] of opRows)
      lines.push(`  ${k.padEnd(16)} ${String(total(r)).padStart(6)}   ${r.ok} / ${r.rejected} / ${r.uncertain}`)
    const faultSum = [...this.faults.values()].reduce((s, n) => s + n, 0)
    lines.push(`faults injected: ${faultSum}`)
    for (const [k, n] of [...this.faults.entries()].sort(([a], [b]) => a.localeCompare(b)))
      lines.push(`  ${k.padEnd(16)} ${String(n).padStart(6)}`)
    lines.push(`checks made: ${this.checks}`)
    lines.push(`500 answers: ${this.serverErrors.length}`)
    for (const e of this.serverErrors.slice(0, 50))
      lines.push(`  ${e.at}s ${e.op} ${e.target} request id ${e.requestId}: ${e.message}`)
    lines.push(`failures: ${this.failures.length}`)
    const byWhat = new Map<string, Failure[]>()
    for (const f of this.failures) byWhat.set(f.what, [...(byWhat.get(f.what) ?? []), f])
    for (const [what, fs] of byWhat) {
      lines.push(`  ${what}: ${fs.length}`)
      for (const f of fs.slice(0, 10)) lines.push(`    ${f.at}s ${f.detail}`)
      if (fs.length > 10) lines.push(`    … ${fs.length - 10} more`)
    }
    lines.push(`soak: seed ${seed} — ${this.failures.length === 0 ? 'PASS' : 'FAIL'}`)
    return lines.join('\n')
  }
}
