/**
 * Help text from the command tables of args.ts: usage lines, flag lists (terminal and Markdown).
 * Pure; the same tables drive the parser, so help cannot name a flag the code does not take.
 */
import type { CommandSpec, FlagSpec, FlagTable } from './args.ts'

/** Terminal help wraps here: readable in an 80–120 column terminal. */
const WIDTH = 100

/** `--port N`, `--force`. */
export const flagUsage = (name: string, f: FlagSpec): string =>
  f.type === 'boolean' ? `--${name}` : `--${name} ${f.value}`

/** The default as help shows it, or undefined when there is none. */
export function shownDefault(f: FlagSpec): string | undefined {
  if (f.type === 'boolean') return undefined
  return f.shownDefault ?? (f.default === undefined ? undefined : String(f.default))
}

/** `coffer node --cluster FILE --data DIR --port N [flags]`: positionals, required flags, the rest. */
export function usageLine(cmd: CommandSpec): string {
  const flags = Object.entries(cmd.flags)
  const required = flags.filter(([, f]) => f.type !== 'boolean' && f.required).map(([n, f]) => flagUsage(n, f))
  const optional = flags.length > required.length ? ['[flags]'] : []
  return [cmd.name, ...(cmd.args ?? []), ...required, ...optional].join(' ')
}

/** Words of `text` in lines of at most `width` characters (a longer word gets a line of its own). */
export function wrap(text: string, width: number): string[] {
  const lines: string[] = []
  let line = ''
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line)
      line = word
    } else line = line ? `${line} ${word}` : word
  }
  return line ? [...lines, line] : lines
}

/** `left` in a column `col` wide, then `text` wrapped beside it (below it when left is wider). */
export function columns(left: string, text: string, col: number): string[] {
  const body = wrap(text, Math.max(WIDTH - col, 30))
  const pad = ' '.repeat(col)
  if (left.length >= col) return [left, ...body.map((l) => pad + l)]
  return body.length ? [left.padEnd(col) + body[0], ...body.slice(1).map((l) => pad + l)] : [left]
}

/** One entry per flag: usage, help, environment variable, default; then -h unless told not to. */
export function flagLines(flags: FlagTable, opts: { help?: boolean } = {}): string[] {
  const rows = Object.entries(flags).map(([name, f]) => {
    const extra = [
      f.type !== 'boolean' && f.env ? `env ${f.env}` : '',
      f.type !== 'boolean' && f.required ? 'required' : '',
      shownDefault(f) ? `default ${shownDefault(f)}` : '',
      f.type === 'list' ? 'comma-separated, repeatable' : '',
    ].filter(Boolean)
    return { left: `  ${flagUsage(name, f)}`, text: extra.length ? `${f.help} [${extra.join('; ')}]` : f.help }
  })
  if (opts.help !== false) rows.push({ left: '  -h, --help', text: 'this help' })
  if (rows.length === 0) return []
  const col = Math.min(Math.max(...rows.map((r) => r.left.length)) + 2, 24)
  return rows.flatMap((r) => columns(r.left, r.text, col))
}

/** `coffer X --help`: usage, what it does, its flags, notes. */
export function commandHelp(cmd: CommandSpec): string {
  return [
    `Usage: ${usageLine(cmd)}`,
    '',
    ...wrap(cmd.summary, WIDTH),
    '',
    'Flags:',
    ...flagLines(cmd.flags),
    ...(cmd.notes?.length ? ['', ...cmd.notes.flatMap((n) => wrap(n, WIDTH))] : []),
    '',
  ].join('\n')
}

/** A list of commands: each usage line with its summary. */
export function commandList(cmds: readonly CommandSpec[], indent = '  '): string[] {
  return cmds.flatMap((c) => columns(`${indent}${usageLine(c)}`, c.summary, 46))
}

/** A variable with no flag (root credentials, tunings): listed beside the flags. */
export interface EnvSpec {
  env: readonly string[]
  shownDefault?: string
  help: string
}

/** The variables in a help section: names, then what they do. */
export function envLines(vars: readonly EnvSpec[]): string[] {
  return vars.flatMap((e) => [
    ...wrap(e.env.join(', '), WIDTH - 2).map((l) => `  ${l}`),
    ...wrap(e.shownDefault ? `${e.help} [default ${e.shownDefault}]` : e.help, WIDTH - 8).map((l) => `        ${l}`),
  ])
}

/** Text for a Markdown table cell: `|` escaped, and `<data>` outside code spans not taken for HTML. */
export function markdownCell(text: string): string {
  return text
    .split('`')
    .map((part, i) => (i % 2 ? part : part.replaceAll('<', '&lt;')))
    .join('`')
    .replaceAll('|', '\\|')
}

/** A Markdown table of flags and variables (the README's), from the same tables as the help. */
export function markdownFlagTable(flags: FlagTable, vars: readonly EnvSpec[] = []): string {
  const code = (s: string) => `\`${s}\``
  // A default that is a value (./data, file:<data>/meta.db) is code; one that is prose is not.
  const dflt = (d: string | undefined) => (d === undefined ? '—' : /\s/.test(d) ? markdownCell(d) : code(d))
  const rows = [
    ...Object.entries(flags).map(([name, f]) => [
      code(flagUsage(name, f)),
      f.type !== 'boolean' && f.env ? code(f.env) : '—',
      dflt(shownDefault(f)),
      markdownCell(f.help),
    ]),
    ...vars.map((e) => ['—', e.env.map(code).join(' '), dflt(e.shownDefault), markdownCell(e.help)]),
  ]
  return [['flag', 'env', 'default', 'meaning'], ['---', '---', '---', '---'], ...rows]
    .map((r) => `| ${r.join(' | ')} |`)
    .join('\n')
}
