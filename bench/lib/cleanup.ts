/**
 * Everything the suite starts is registered here and undone on every way out: normal end, an
 * error, Ctrl-C (SIGINT) or SIGTERM. Child processes are killed by pid, temp dirs removed.
 */
import { rmSync } from 'node:fs'

interface Entry {
  name: string
  /** Graceful undo (stop a server, remove its dir). */
  undo: () => Promise<void> | void
  /** Last resort from the synchronous 'exit' handler: SIGKILL a pid, remove a dir. */
  pid?: number
  dir?: string
}

const entries = new Set<Entry>()
let installed = false
/** Graceful undo gets this long per entry before we move on (a hung child is SIGKILLed at exit). */
const UNDO_TIMEOUT_MS = 15_000

/** Registers an undo; returns a function that runs it once and unregisters it. */
export function onCleanup(
  name: string,
  undo: () => Promise<void> | void,
  last?: { pid?: number; dir?: string },
): () => Promise<void> {
  install()
  const entry: Entry = { name, undo, ...last }
  entries.add(entry)
  return async () => {
    if (!entries.delete(entry)) return
    await bounded(entry)
  }
}

async function bounded(e: Entry): Promise<void> {
  let timer: NodeJS.Timeout | undefined
  await Promise.race([
    Promise.resolve()
      .then(e.undo)
      .catch((err) => console.error(`bench: cleanup of ${e.name} failed: ${err}`)),
    new Promise<void>((r) => (timer = setTimeout(r, UNDO_TIMEOUT_MS))),
  ])
  clearTimeout(timer)
}

/** Runs every registered undo, newest first. */
export async function cleanupAll(): Promise<void> {
  const list = [...entries].reverse()
  entries.clear()
  for (const e of list) await bounded(e)
}

function lastResort(): void {
  for (const e of entries) {
    if (e.pid)
      try {
        process.kill(e.pid, 'SIGKILL')
      } catch {
        /* already gone */
      }
    if (e.dir)
      try {
        rmSync(e.dir, { recursive: true, force: true })
      } catch {
        /* best effort */
      }
  }
  entries.clear()
}

function install(): void {
  if (installed) return
  installed = true
  let interrupted = false
  const onSignal = (signal: NodeJS.Signals) => {
    if (interrupted) {
      lastResort() // a second Ctrl-C: do not wait for graceful stops
      process.exit(130)
    }
    interrupted = true
    console.error(`\nbench: ${signal}, stopping servers and removing temp dirs …`)
    void cleanupAll().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143))
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  process.on('exit', lastResort)
}
