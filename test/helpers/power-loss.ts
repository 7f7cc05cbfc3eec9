/**
 * A simulated power loss: replays, from an strace log, what a process wrote to chosen files and
 * keeps only what fsync/fdatasync (and, for a file's existence, an fsync of its directory) had made
 * durable by a given moment. Pure parsing and replay, plus the strace command line that feeds it.
 */

/** One completed system call on a traced file. `t` is the wall clock at entry, in seconds. */
export interface TraceEvent {
  t: number
  pid: number
  call: string
  /** The path of the fd argument (from strace -y), or of the path argument. */
  path: string
  /** openat: the path of the returned fd and its flags; pwrite64: the bytes and their offset. */
  flags?: string
  data?: Uint8Array
  offset?: number
  /** ftruncate: the new length. */
  length?: number
}

/** System calls that can change a file's bytes or existence, and the syncs that make them durable. */
const CALLS = [
  'openat',
  'pwrite64',
  'write',
  'pwritev',
  'pwritev2',
  'writev',
  'ftruncate',
  'fsync',
  'fdatasync',
  'unlink',
  'unlinkat',
  'rename',
  'renameat',
  'renameat2',
]

/**
 * strace options for parseTrace: follow threads and children, fds shown with their paths, wall
 * clock at entry, every byte in hex (no truncation below 1 MiB per call), only calls on `paths`.
 */
export function straceArgs(out: string, paths: string[]): string[] {
  return [
    '-f',
    '-qq',
    '-y',
    '-ttt',
    '-xx',
    '-s',
    String(1 << 20),
    '--seccomp-bpf',
    '-e',
    `trace=${CALLS.join(',')}`,
    ...paths.flatMap((p) => ['-P', p]),
    '-o',
    out,
  ]
}

/** Decodes strace -xx text ("\x2f\x74...") to bytes. */
function unhex(s: string): Uint8Array {
  if (!/^(\\x[0-9a-f]{2})*$/.test(s)) throw new Error(`not an strace -xx string: ${s.slice(0, 40)}`)
  const out = new Uint8Array(s.length / 4)
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(s.slice(i * 4 + 2, i * 4 + 4), 16)
  return out
}
const text = (s: string) => new TextDecoder().decode(unhex(s))

/** `24<\x2f...>` → the path. */
function fdPath(arg: string): string {
  const m = /^\d+<((?:\\x[0-9a-f]{2})*)>$/.exec(arg.trim())
  if (!m) throw new Error(`expected an fd with its path (strace -y), got ${arg.slice(0, 60)}`)
  return text(m[1]!)
}

/** Splits the argument list at top-level commas (strings and braces may hold commas). */
function splitArgs(s: string): string[] {
  const out: string[] = []
  let depth = 0
  let quoted = false
  let start = 0
  for (let i = 0; i < s.length; i++) {
    const c = s[i]
    if (quoted) {
      if (c === '\\') i++
      else if (c === '"') quoted = false
    } else if (c === '"') quoted = true
    else if (c === '{' || c === '[' || c === '<') depth++
    else if (c === '}' || c === ']' || c === '>') depth--
    else if (c === ',' && depth === 0) {
      out.push(s.slice(start, i).trim())
      start = i + 1
    }
  }
  out.push(s.slice(start).trim())
  return out
}

const quotedArg = (a: string): string => {
  if (a.endsWith('"...')) throw new Error('strace truncated a buffer: raise -s')
  const m = /^"(.*)"$/.exec(a)
  if (!m) throw new Error(`expected a string argument, got ${a.slice(0, 60)}`)
  return m[1]!
}

/** The successful calls of an strace log written with straceArgs, in log order. */
export function parseTrace(log: string): TraceEvent[] {
  const events: TraceEvent[] = []
  const pending = new Map<number, { t: number; head: string }>()
  for (const line of log.split('\n')) {
    const m = /^(\d+)\s+(\d+\.\d+)\s+(.*)$/.exec(line)
    if (!m) continue
    const pid = Number(m[1])
    let t = Number(m[2])
    let body = m[3]!
    if (body.endsWith('<unfinished ...>')) {
      pending.set(pid, { t, head: body.slice(0, -'<unfinished ...>'.length).trimEnd() })
      continue
    }
    const resumed = /^<\.\.\. (\w+) resumed>\s?(.*)$/.exec(body)
    if (resumed) {
      const head = pending.get(pid)
      if (!head) throw new Error(`resumed call without its start: ${line.slice(0, 80)}`)
      pending.delete(pid)
      t = head.t
      body = `${head.head}${resumed[2]}`
    }
    const call = /^(\w+)\((.*)\)\s+=\s+(.+)$/.exec(body)
    if (!call) continue // signals, exits
    const [, name, rawArgs, ret] = call as unknown as [string, string, string, string]
    if (!CALLS.includes(name) || ret.startsWith('-1 ') || ret === '?') continue // failed: changed nothing
    const args = splitArgs(rawArgs)
    const ev: TraceEvent = { t, pid, call: name, path: '' }
    switch (name) {
      case 'openat':
        ev.path = fdPath(ret)
        ev.flags = args[2]
        break
      case 'pwrite64':
        ev.path = fdPath(args[0]!)
        ev.data = unhex(quotedArg(args[1]!)).subarray(0, Number(ret))
        ev.offset = Number(args[3])
        if (!Number.isSafeInteger(ev.offset)) throw new Error(`bad pwrite64 offset in: ${line.slice(0, 120)}`)
        break
      case 'ftruncate':
        ev.path = fdPath(args[0]!)
        ev.length = Number(args[1])
        if (!Number.isSafeInteger(ev.length)) throw new Error(`bad ftruncate length in: ${line.slice(0, 120)}`)
        break
      case 'fsync':
      case 'fdatasync':
        ev.path = fdPath(args[0]!)
        break
      case 'unlink':
        ev.path = text(quotedArg(args[0]!))
        break
      case 'unlinkat':
        ev.path = `${fdPath(args[0]!)}/${text(quotedArg(args[1]!))}`
        break
      default:
        // write, writev, pwritev*, rename*: SQLite uses none of them on its files; replaying them
        // is not modelled, so refuse rather than give an image that misses their bytes.
        throw new Error(`${name} on a traced file is not modelled by the power-loss replay: ${line.slice(0, 120)}`)
    }
    events.push(ev)
  }
  return events
}

interface FileState {
  /** Bytes as the process sees them (page cache). */
  current: Uint8Array | undefined
  /** Bytes as of the file's last fsync/fdatasync. */
  synced: Uint8Array
  /** Whether the directory entry exists on disk: set by an fsync of the directory. */
  entryDurable: boolean
}

const dirOf = (p: string) => p.slice(0, p.lastIndexOf('/')) || '/'

/**
 * The files as a power loss at `until` (seconds, wall clock) would leave them: for each of `files`,
 * its bytes at its last sync before `until`, or undefined when its creation was never made durable
 * (or its removal was). Only events before `until` count; files must be created inside the trace.
 */
export function durableImage(
  events: TraceEvent[],
  files: string[],
  until: number,
): Map<string, Uint8Array | undefined> {
  const state = new Map<string, FileState>()
  const get = (path: string, why: string): FileState => {
    const s = state.get(path)
    if (!s) throw new Error(`${why} ${path}, which the trace never created: start tracing before it exists`)
    return s
  }
  for (const e of events) {
    if (e.t >= until) break
    if (e.call === 'openat') {
      const s = state.get(e.path)
      const create = /O_CREAT/.test(e.flags ?? '')
      if (!s) {
        if (create) state.set(e.path, { current: new Uint8Array(0), synced: new Uint8Array(0), entryDurable: false })
        else if (files.includes(e.path)) get(e.path, 'opened') // throws: it existed before the trace
        continue
      }
      if (s.current === undefined && create)
        throw new Error(`${e.path} was removed and created again: not modelled by the power-loss replay`)
      if (/O_TRUNC/.test(e.flags ?? '') && s.current) s.current = new Uint8Array(0)
    } else if (e.call === 'pwrite64') {
      const s = get(e.path, 'wrote to')
      const cur = s.current ?? new Uint8Array(0)
      const end = (e.offset ?? 0) + (e.data?.length ?? 0)
      const next = new Uint8Array(Math.max(cur.length, end))
      next.set(cur)
      next.set(e.data ?? new Uint8Array(0), e.offset ?? 0)
      s.current = next
    } else if (e.call === 'ftruncate') {
      const s = get(e.path, 'truncated')
      const next = new Uint8Array(e.length ?? 0)
      next.set((s.current ?? new Uint8Array(0)).subarray(0, next.length))
      s.current = next
    } else if (e.call === 'fsync' || e.call === 'fdatasync') {
      const s = state.get(e.path)
      if (s?.current) s.synced = s.current.slice()
      // An fsync of a directory makes its entries durable: created files exist, removed ones are gone.
      for (const [path, f] of state) if (dirOf(path) === e.path) f.entryDurable = f.current !== undefined
    } else if (e.call === 'unlink' || e.call === 'unlinkat') {
      const s = state.get(e.path)
      if (s) s.current = undefined
    }
  }
  const image = new Map<string, Uint8Array | undefined>()
  for (const f of files) {
    const s = state.get(f)
    image.set(f, s?.entryDurable ? s.synced : undefined)
  }
  return image
}
