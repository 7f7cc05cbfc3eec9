/**
 * A simulated power loss: replays, from an strace log, what a process wrote to chosen files and
 * keeps only what fsync/fdatasync (and, for a file's name — created, renamed or removed — an fsync
 * of its directory) had made durable by a given moment. Pure parsing and replay, plus the strace
 * command line that feeds it and the way to end a traced program.
 */

/** One completed system call on a traced file. `t` is the wall clock at entry, in seconds. */
import { readFileSync } from 'node:fs'

export interface TraceEvent {
  t: number
  pid: number
  call: string
  /** The path of the fd argument (from strace -y), or of the path argument (rename*: the source). */
  path: string
  /** rename*: the new name. */
  to?: string
  /** openat: the returned fd; write, lseek: the fd argument. */
  fd?: number
  /** openat: the path of the returned fd and its flags; pwrite64: the bytes and their offset. */
  flags?: string
  /** write: the bytes, at the fd's position; lseek: `offset` is the position it returned. */
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
  'lseek',
  'fsync',
  'fdatasync',
  'unlink',
  'unlinkat',
  'rename',
  'renameat',
  'renameat2',
  'mkdir',
  'mkdirat',
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

/**
 * Ends the program a strace process runs (its child) with SIGTERM; strace then exits with it, its
 * log whole. strace itself cannot be asked: writing its log to a file (-o) it blocks fatal signals
 * (its -I3 default), so a SIGTERM to it waits for the SIGKILL that follows, and a SIGKILLed strace
 * leaves its tracee running on, outside the test. Returns the pids signalled (none when strace is gone).
 */
export function endTracee(stracePid: number | undefined): number[] {
  if (stracePid === undefined) return []
  let children: number[]
  try {
    const list = readFileSync(`/proc/${stracePid}/task/${stracePid}/children`, 'utf8')
    children = list.trim().split(/\s+/).filter(Boolean).map(Number)
  } catch {
    return [] // strace has exited
  }
  for (const pid of children) {
    try {
      process.kill(pid, 'SIGTERM')
    } catch {
      // exited meanwhile
    }
  }
  return children
}

/** Whether process `pid` still exists. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

/** Decodes strace -xx text ("\x2f\x74...") to bytes. */
function unhex(s: string): Uint8Array {
  if (!/^(\\x[0-9a-f]{2})*$/.test(s)) throw new Error(`not an strace -xx string: ${s.slice(0, 40)}`)
  const out = new Uint8Array(s.length / 4)
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(s.slice(i * 4 + 2, i * 4 + 4), 16)
  return out
}
const text = (s: string) => new TextDecoder().decode(unhex(s))

/** `24<\x2f...>` (or `AT_FDCWD<\x2f...>`, the working directory) → the path. */
function fdPath(arg: string): string {
  const m = /^(?:\d+|AT_FDCWD)<((?:\\x[0-9a-f]{2})*)>$/.exec(arg.trim())
  if (!m) throw new Error(`expected an fd with its path (strace -y), got ${arg.slice(0, 60)}`)
  return text(m[1]!)
}

/** `24<\x2f...>` → 24. */
function fdNumber(arg: string): number {
  const m = /^(\d+)</.exec(arg.trim())
  if (!m) throw new Error(`expected an fd with its path (strace -y), got ${arg.slice(0, 60)}`)
  return Number(m[1])
}

/** A path argument, absolute, or relative to a directory fd (`dirArg`, from the *at calls). */
function pathArg(arg: string, dirArg?: string): string {
  const p = text(quotedArg(arg))
  if (p.startsWith('/')) return p
  if (dirArg === undefined) throw new Error(`relative path ${p} without its directory: not modelled by the replay`)
  return `${fdPath(dirArg)}/${p}`
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

/**
 * The successful calls of an strace log written with straceArgs, in log order. `within`: keep
 * only calls on paths under that directory (for a trace without paths, whose files have names
 * not known in advance: a random temp name); calls elsewhere (a pipe, a cache) are left out
 * even when the replay could not model them.
 */
export function parseTrace(log: string, opts: { within?: string } = {}): TraceEvent[] {
  const under = (p: string | undefined) =>
    opts.within === undefined || (p !== undefined && (p === opts.within || p.startsWith(`${opts.within}/`)))
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
        ev.fd = fdNumber(ret)
        ev.flags = args[2]
        break
      case 'write':
        ev.path = fdPath(args[0]!)
        ev.fd = fdNumber(args[0]!)
        ev.data = unhex(quotedArg(args[1]!)).subarray(0, Number(ret))
        break
      case 'lseek':
        ev.path = fdPath(args[0]!)
        ev.fd = fdNumber(args[0]!)
        ev.offset = Number(ret)
        if (!Number.isSafeInteger(ev.offset)) throw new Error(`bad lseek result in: ${line.slice(0, 120)}`)
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
        ev.path = pathArg(args[0]!)
        break
      case 'unlinkat':
        ev.path = pathArg(args[1]!, args[0]!)
        break
      case 'mkdir':
        ev.path = pathArg(args[0]!)
        break
      case 'mkdirat':
        ev.path = pathArg(args[1]!, args[0]!)
        break
      case 'rename':
        ev.path = pathArg(args[0]!)
        ev.to = pathArg(args[1]!)
        break
      case 'renameat':
      case 'renameat2':
        // RENAME_EXCHANGE swaps two names, RENAME_WHITEOUT leaves a device behind: not modelled.
        if (/RENAME_EXCHANGE|RENAME_WHITEOUT/.test(args[4] ?? ''))
          throw new Error(`${name} with ${args[4]} is not modelled by the power-loss replay: ${line.slice(0, 120)}`)
        ev.path = pathArg(args[1]!, args[0]!)
        ev.to = pathArg(args[3]!, args[2]!)
        break
      default:
        // writev, pwritev*: neither SQLite nor Coffer's own files use them; replaying them is not
        // modelled, so refuse rather than give an image that misses their bytes.
        if (!under(fdPath(args[0]!))) continue
        throw new Error(`${name} on a traced file is not modelled by the power-loss replay: ${line.slice(0, 120)}`)
    }
    if (under(ev.path) || under(ev.to)) events.push(ev)
  }
  return events
}

/** A file's bytes, whichever names point at it. */
interface Inode {
  /** Bytes as the process sees them (page cache). */
  current: Uint8Array
  /** Bytes as of the file's last fsync/fdatasync. */
  synced: Uint8Array
}

const dirOf = (p: string) => p.slice(0, p.lastIndexOf('/')) || '/'

/**
 * The files as a power loss at `until` (seconds, wall clock) would leave them: for each of `files`,
 * the bytes of the file its name pointed at on disk, as of that file's last sync before `until`;
 * undefined when the name never became durable (or its removal did). A name changes on disk —
 * created, renamed to, renamed away, removed — only when its directory is fsynced afterwards, as
 * POSIX promises (ext4 may keep a rename sooner; a program must not count on it). A directory
 * the trace made (mkdir) holds nothing after a power loss until its own name is durable the same
 * way. Only events before `until` count; files must be created inside the trace.
 */
export function durableImage(
  events: TraceEvent[],
  files: string[],
  until: number,
): Map<string, Uint8Array | undefined> {
  /** Name → file, as the process sees the directories, and as the disk holds them. */
  const live = new Map<string, Inode>()
  const durable = new Map<string, Inode>()
  /** Directories made in the trace, and those of them whose names are durable. */
  const madeDirs = new Set<string>()
  const durableDirs = new Set<string>()
  /** The file position of each fd a traced openat returned (write(2) writes there). */
  const position = new Map<number, { at: number; append: boolean }>()
  const get = (path: string, why: string): Inode => {
    const s = live.get(path)
    if (!s) throw new Error(`${why} ${path}, which the trace never created: start tracing before it exists`)
    return s
  }
  const writeAt = (f: Inode, offset: number, data: Uint8Array) => {
    const end = offset + data.length
    const next = new Uint8Array(Math.max(f.current.length, end))
    next.set(f.current)
    next.set(data, offset)
    f.current = next
  }
  for (const e of events) {
    if (e.t >= until) break
    if (e.call === 'openat') {
      const f = live.get(e.path)
      const create = /O_CREAT/.test(e.flags ?? '')
      if (f || create) position.set(e.fd!, { at: 0, append: /O_APPEND/.test(e.flags ?? '') })
      else position.delete(e.fd!)
      if (!f) {
        if (create) live.set(e.path, { current: new Uint8Array(0), synced: new Uint8Array(0) })
        else if (files.includes(e.path)) get(e.path, 'opened') // throws: it existed before the trace
        continue
      }
      if (/O_TRUNC/.test(e.flags ?? '')) f.current = new Uint8Array(0)
    } else if (e.call === 'pwrite64') {
      writeAt(get(e.path, 'wrote to'), e.offset ?? 0, e.data ?? new Uint8Array(0))
    } else if (e.call === 'write') {
      const f = get(e.path, 'wrote to')
      const pos = position.get(e.fd!)
      if (!pos) throw new Error(`write to fd ${e.fd} (${e.path}), whose opening the trace does not hold: not modelled`)
      const data = e.data ?? new Uint8Array(0)
      const at = pos.append ? f.current.length : pos.at
      writeAt(f, at, data)
      pos.at = at + data.length
    } else if (e.call === 'lseek') {
      const pos = position.get(e.fd!)
      if (pos) pos.at = e.offset ?? 0
    } else if (e.call === 'ftruncate') {
      const f = get(e.path, 'truncated')
      const next = new Uint8Array(e.length ?? 0)
      next.set(f.current.subarray(0, next.length))
      f.current = next
    } else if (e.call === 'fsync' || e.call === 'fdatasync') {
      const f = live.get(e.path)
      if (f) f.synced = f.current.slice()
      // An fsync of a directory makes its entries durable as they are now: created or renamed-to
      // names exist, removed or renamed-away ones are gone.
      for (const name of new Set([...live.keys(), ...durable.keys()])) {
        if (dirOf(name) !== e.path) continue
        const now = live.get(name)
        if (now) durable.set(name, now)
        else durable.delete(name)
      }
      for (const d of madeDirs) if (dirOf(d) === e.path) durableDirs.add(d)
    } else if (e.call === 'mkdir' || e.call === 'mkdirat') {
      madeDirs.add(e.path)
    } else if (e.call === 'unlink' || e.call === 'unlinkat') {
      live.delete(e.path)
    } else if (e.call === 'rename' || e.call === 'renameat' || e.call === 'renameat2') {
      const to = e.to!
      const f = live.get(e.path)
      if (!f) {
        // A file from before the trace: its bytes are unknown, so only an untraced name may get them.
        if (files.includes(to)) get(e.path, 'renamed')
        live.delete(to)
        continue
      }
      live.delete(e.path)
      live.set(to, f)
    }
  }
  const image = new Map<string, Uint8Array | undefined>()
  const reachable = (f: string) => {
    for (let d = dirOf(f); d !== '/'; d = dirOf(d)) if (madeDirs.has(d) && !durableDirs.has(d)) return false
    return true
  }
  for (const f of files) image.set(f, reachable(f) ? durable.get(f)?.synced : undefined)
  return image
}
