/**
 * Progress on stderr: a cli-progress bar on a TTY, one line per step otherwise (CI logs), so
 * stdout carries only the tables.
 */
import cliProgress from 'cli-progress'

export interface Progress {
  /** Adds planned steps (suites add theirs as they learn them). */
  plan(steps: number): void
  /** One step done; `label` names what runs next or what finished. */
  step(label: string): void
  /** A label without advancing (long steps). */
  status(label: string): void
  stop(): void
}

export function createProgress(enabled = process.stderr.isTTY === true): Progress {
  let total = 0
  let done = 0
  if (!enabled) {
    const started = performance.now()
    const stamp = () => `${((performance.now() - started) / 1000).toFixed(0).padStart(4)}s`
    return {
      plan: (n) => {
        total += n
      },
      step: (label) => console.error(`${stamp()} [${++done}/${total}] ${label}`),
      status: (label) => console.error(`${stamp()}        ${label}`),
      stop: () => {},
    }
  }
  const bar = new cliProgress.SingleBar(
    {
      stream: process.stderr,
      format: ' {bar} {value}/{total} {duration_formatted} {label}',
      hideCursor: true,
      clearOnComplete: true,
      etaBuffer: 20,
    },
    cliProgress.Presets.shades_classic,
  )
  let started = false
  return {
    plan(n) {
      total += n
      if (!started) {
        bar.start(total, 0, { label: '' })
        started = true
      } else bar.setTotal(total)
    },
    step: (label) => bar.increment(1, { label: label.slice(0, 60) }),
    status: (label) => bar.update({ label: label.slice(0, 60) }),
    stop: () => started && bar.stop(),
  }
}
