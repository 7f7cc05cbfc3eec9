/**
 * The one command-line parser: each command (and bench/) declares its flags in a table and parses
 * argv + env with parseFlags, on node:util parseArgs (Node, Deno and Bun ship the same one).
 */
import { parseArgs } from 'node:util'

/** Exit code for a usage error: the command line must change, retrying will not help. */
export const EXIT_USAGE = 2

/** A switch: present or not. Switches take no value and have no environment variable. */
export interface SwitchSpec {
  type: 'boolean'
  help: string
}

/** A flag with a value: text, a whole number, or a comma-separated list (repeatable). */
export interface ValueSpec {
  type: 'string' | 'int' | 'list'
  /** Placeholder for the value in help and messages: DIR, N, URL. */
  value: string
  /** Read when the flag is absent; an empty variable counts as unset. */
  env?: string
  default?: string | number
  /** The default as help shows it, when it is derived rather than fixed (file:<data>/meta.db). */
  shownDefault?: string
  required?: boolean
  help: string
}

export type FlagSpec = SwitchSpec | ValueSpec
export type FlagTable = Readonly<Record<string, FlagSpec>>

export interface CommandSpec<T extends FlagTable = FlagTable> {
  /** The words that run it: `coffer admin user create`. */
  name: string
  /** Positional arguments in order, all required: NAME, ACCESSKEY. */
  args?: readonly string[]
  summary: string
  flags: T
  /** Further help lines (what to do next, where a file goes). */
  notes?: readonly string[]
}

type ValueOf<F> = F extends { type: 'boolean' }
  ? boolean
  : F extends { type: 'list' }
    ? string[]
    :
        | (F extends { type: 'int' } ? number : string)
        | (F extends { default: unknown } | { required: true } ? never : undefined)

/** Parsed values; a required flag's value is only meaningful when there were no problems. */
export type FlagValues<T extends FlagTable> = { -readonly [K in keyof T]: ValueOf<T[K]> }

export interface Parsed<T extends FlagTable> {
  values: FlagValues<T>
  positionals: string[]
  /** --help or -h was given: print help, whatever else is wrong. */
  help: boolean
  /** Each one says what to change; empty when the command line is usable. */
  problems: string[]
}

type Env = Record<string, string | undefined>

/** Whole numbers only, up to 9 digits: enough for ports, counts and sizes, never a float or -1. */
const WHOLE = /^\d{1,9}$/

/**
 * The raw scan: which flags were given (values in order), positionals with their argv index, and
 * spelling problems. parseArgs runs non-strict so that every problem is collected, not the first.
 */
function scanFlags(
  flags: FlagTable,
  argv: readonly string[],
): {
  given: Map<string, string[]>
  positionals: { value: string; index: number }[]
  help: boolean
  problems: string[]
} {
  const options: Record<string, { type: 'string' | 'boolean'; short?: string }> = {
    help: { type: 'boolean', short: 'h' },
  }
  for (const [name, f] of Object.entries(flags)) options[name] = { type: f.type === 'boolean' ? 'boolean' : 'string' }
  const given = new Map<string, string[]>()
  const positionals: { value: string; index: number }[] = []
  const problems: string[] = []
  let help = false
  let start = 0
  // parseArgs takes `--domain --port 1` as domain "--port"; we call that a missing value and
  // rescan from "--port". Each rescan starts further on, so the loop ends.
  rescan: while (start <= argv.length) {
    const { tokens } = parseArgs({
      args: argv.slice(start),
      options,
      strict: false,
      allowPositionals: true,
      tokens: true,
    })
    for (let i = 0; i < tokens.length; i++) {
      const t = tokens[i]!
      if (t.kind === 'option-terminator') continue
      if (t.kind === 'positional') {
        positionals.push({ value: t.value, index: start + t.index })
        continue
      }
      if (t.name === 'help') {
        help = true
        continue
      }
      // hasOwn: `--constructor` is not a flag just because objects have one.
      const spec = Object.hasOwn(flags, t.name) ? flags[t.name] : undefined
      if (!spec) {
        problems.push(`unknown flag ${t.rawName}: ${known(flags)}`)
        // `--prot 9000`: 9000 was meant as its value, not as an argument of its own.
        if (t.value === undefined && tokens[i + 1]?.kind === 'positional') i++
        continue
      }
      if (spec.type === 'boolean') {
        if (t.value !== undefined) problems.push(`--${t.name} takes no value: give --${t.name} alone`)
        else given.set(t.name, [])
        continue
      }
      if (t.inlineValue === false && t.value?.startsWith('--')) {
        problems.push(`--${t.name} needs a value: --${t.name} ${spec.value}`)
        start += t.index + 1
        continue rescan
      }
      if (t.value === undefined || t.value === '') {
        problems.push(`--${t.name} needs a value: --${t.name} ${spec.value}`)
        continue
      }
      const values = given.get(t.name) ?? []
      if (values.length === 1 && spec.type !== 'list') problems.push(`--${t.name} is given twice: keep one`)
      given.set(t.name, [...values, t.value])
    }
    break
  }
  return { given, positionals, help, problems }
}

const known = (flags: FlagTable): string => {
  const names = Object.keys(flags)
  return names.length ? `known flags are ${names.map((n) => `--${n}`).join(', ')}` : 'this command takes no flags'
}

/**
 * Parses argv (the words after the command) against a command's table: flag > env > default.
 * Every problem is collected; none throws.
 */
export function parseFlags<T extends FlagTable>(cmd: CommandSpec<T>, argv: readonly string[], env: Env): Parsed<T> {
  const scan = scanFlags(cmd.flags, argv)
  const problems = scan.problems
  const values: Record<string, unknown> = {}
  for (const [name, spec] of Object.entries(cmd.flags)) {
    const flag = scan.given.get(name)
    if (spec.type === 'boolean') {
      values[name] = flag !== undefined
      continue
    }
    const fromEnv = spec.env && env[spec.env] !== '' ? env[spec.env] : undefined
    const raw = flag !== undefined ? flag : fromEnv !== undefined ? [fromEnv] : undefined
    const source = flag !== undefined ? `--${name}` : spec.env
    if (raw === undefined) {
      if (spec.required)
        problems.push(`--${name} ${spec.value} is required${spec.env ? ` (or set ${spec.env})` : ''}: ${spec.help}`)
      values[name] = spec.type === 'list' ? [] : spec.default
    } else if (spec.type === 'list') {
      values[name] = raw.flatMap((v) => v.split(',').map((s) => s.trim())).filter((s) => s !== '')
    } else if (spec.type === 'int') {
      const text = raw[0]!.trim()
      if (WHOLE.test(text)) values[name] = Number(text)
      else {
        problems.push(`${source} needs a whole number, got "${raw[0]}"`)
        values[name] = spec.default
      }
    } else values[name] = raw[0]
  }
  const expected = cmd.args ?? []
  for (const extra of scan.positionals.slice(expected.length))
    problems.push(
      `unexpected argument "${extra.value}"${expected.length ? '' : ': this command takes flags only, like --name value'}`,
    )
  // An argument written `[NAME]` is optional (it can only come last).
  for (const missing of expected.slice(scan.positionals.length))
    if (!missing.startsWith('[')) problems.push(`${missing} is missing`)
  return {
    values: values as FlagValues<T>,
    positionals: scan.positionals.map((p) => p.value),
    help: scan.help,
    problems,
  }
}

/**
 * Finds the sub-command words (`admin user create`, `cluster init`) among argv, wherever the
 * command's common flags sit, and returns argv without them for parseFlags.
 */
export function splitWords(
  common: FlagTable,
  argv: readonly string[],
  count: number,
): { words: string[]; rest: string[]; help: boolean } {
  const scan = scanFlags(common, argv)
  const picked = scan.positionals.slice(0, count)
  const taken = new Set(picked.map((p) => p.index))
  return { words: picked.map((p) => p.value), rest: argv.filter((_, i) => !taken.has(i)), help: scan.help }
}

/** Prints usage problems and where to look, and returns EXIT_USAGE. */
export function usageError(io: { err(text: string): void }, command: string, problems: readonly string[]): number {
  for (const p of problems) io.err(`${command}: ${p}`)
  io.err(`Run \`${command} --help\` for its arguments and flags.`)
  return EXIT_USAGE
}
