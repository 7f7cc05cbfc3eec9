/**
 * Help cannot drift from the code: every command's --help names each flag its table (the parser's
 * input) holds and no other; every command accepts what its help names; README's table is generated.
 */
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import type { RuntimeAdapter } from './adapter.ts'
import { adminRequest } from './admin-cli.ts'
import { ADMIN_GROUPS } from './admin-commands.ts'
import { parseFlags, type CommandSpec } from './args.ts'
import { main } from './cli.ts'
import { COMMANDS } from './commands.ts'
import { parseServerArgs, SERVER_COMMAND, SERVER_ENV_ONLY } from './env.ts'
import { flagUsage, markdownFlagTable } from './help.ts'
import { parseNodeArgs } from './storage-node.ts'
import { CLUSTER_INIT_COMMAND } from './cluster.ts'
import { META_SERVER_COMMAND } from './meta-server.ts'

const noServe: RuntimeAdapter = {
  name: 'node',
  serve: () => Promise.reject(new Error('serve must not be called')),
  limits: [],
  onSignals: () => {},
  exit: (code) => {
    throw new Error(`exit ${code}`)
  },
}

async function run(argv: string[]) {
  const out: string[] = []
  const err: string[] = []
  const code = await main(argv, noServe, {}, { out: (t) => out.push(t), err: (t) => err.push(t) })
  return { code, out: out.join('\n'), err: err.join('\n') }
}

/** `coffer admin user create` → ['admin', 'user', 'create']. */
const words = (cmd: CommandSpec) => cmd.name.split(' ').slice(1)
/** The flags a help text lists: its lines that start with a flag. */
const listedFlags = (help: string) =>
  [...help.matchAll(/^ {2,}(?:-h, )?--([a-z][a-z0-9-]*)/gm)].map((m) => m[1]!).filter((f) => f !== 'help')

/** Usage problems of one command line, through the command's own parser (nothing runs). */
async function problemsOf(cmd: CommandSpec, argv: string[]): Promise<string[]> {
  const [first] = words(cmd)
  if (first === 'server') {
    const r = parseServerArgs(argv, {})
    return r.ok ? [] : r.problems
  }
  if (first === 'node') {
    const r = parseNodeArgs(argv, {})
    return r.ok ? [] : r.problems
  }
  if (first === 'admin') {
    const r = adminRequest([...words(cmd).slice(1), ...argv], {})
    return 'problems' in r ? r.problems : []
  }
  // meta-server and cluster init parse with their tables directly (running them starts sqld or
  // writes a cluster file).
  if (first === 'meta-server') return parseFlags(META_SERVER_COMMAND, argv, {}).problems
  // cluster init parses with its table directly (running it would write a cluster file).
  return parseFlags(CLUSTER_INIT_COMMAND, argv, {}).problems
}

describe('help from the command tables', () => {
  it('covers every command there is', () => {
    expect(COMMANDS.map((c) => c.name)).toEqual([
      'coffer server',
      'coffer node',
      'coffer meta-server',
      'coffer cluster init',
      ...Object.entries(ADMIN_GROUPS).flatMap(([g, { verbs }]) =>
        Object.keys(verbs).map((v) => `coffer admin ${g} ${v}`),
      ),
    ])
  })

  it.each(COMMANDS.map((c) => [c.name, c] as const))('`%s --help` lists exactly the flags it takes', async (_, cmd) => {
    const r = await run([...words(cmd), '--help'])
    expect(r.code).toBe(0)
    expect(r.out).toMatch(new RegExp(`^Usage: ${cmd.name}`))
    for (const [name, f] of Object.entries(cmd.flags)) {
      expect(r.out).toContain(flagUsage(name, f))
      if (f.type !== 'boolean' && f.env) expect(r.out).toContain(f.env)
    }
    expect(listedFlags(r.out).sort()).toEqual(Object.keys(cmd.flags).sort())
    expect(r.out).toContain('-h, --help')
  })

  it.each(COMMANDS.map((c) => [c.name, c] as const))('`%s` accepts every flag its help lists', async (_, cmd) => {
    const help = (await run([...words(cmd), '--help'])).out
    for (const flag of listedFlags(help)) {
      const f = cmd.flags[flag]!
      const argv = f.type === 'boolean' ? [`--${flag}`] : [`--${flag}`, f.type === 'int' ? '1' : 'x']
      expect((await problemsOf(cmd, argv)).join('\n')).not.toMatch(/unknown flag/)
    }
    expect((await problemsOf(cmd, ['--no-such-flag'])).join('\n')).toMatch(/unknown flag --no-such-flag/)
  })

  it('`coffer help` names every command; `coffer help X` is `coffer X --help`', async () => {
    const r = await run(['help'])
    for (const cmd of COMMANDS) expect(r.out).toContain(cmd.name)
    for (const [name, f] of Object.entries(SERVER_COMMAND.flags)) expect(r.out).toContain(flagUsage(name, f))
    expect((await run(['help', 'admin', 'user', 'create'])).out).toBe(
      (await run(['admin', 'user', 'create', '--help'])).out,
    )
  })

  it('each admin group and `coffer admin --help` list their verbs with their own flags', async () => {
    const all = (await run(['admin', '--help'])).out
    for (const [group, { verbs }] of Object.entries(ADMIN_GROUPS)) {
      const r = await run(['admin', group, '--help'])
      expect(r.code).toBe(0)
      for (const [verb, v] of Object.entries(verbs)) {
        for (const text of [r.out, all]) {
          expect(text).toContain(`coffer admin ${group} ${verb}`)
          for (const [name, f] of Object.entries(v.flags)) expect(text).toContain(flagUsage(name, f))
        }
      }
    }
  })

  it('`coffer server --help` lists the variables that have no flag', async () => {
    const r = await run(['server', '--help'])
    for (const e of SERVER_ENV_ONLY) for (const name of e.env) expect(r.out).toContain(name)
  })
})

describe('README', () => {
  const file = join(import.meta.dirname, '../../README.md')
  const BEGIN = /<!-- BEGIN generated from src\/runtime\/env\.ts[^>]*-->\n/
  const END = '<!-- END generated -->'

  it("has the server's flag table as the code generates it", () => {
    const readme = readFileSync(file, 'utf8')
    const begin = BEGIN.exec(readme)
    const end = readme.indexOf(END)
    expect(begin, 'README lost its BEGIN marker').not.toBeNull()
    expect(end).toBeGreaterThan(begin!.index)
    const current = readme.slice(begin!.index + begin![0].length, end)
    const wanted = `${markdownFlagTable(SERVER_COMMAND.flags, SERVER_ENV_ONLY)}\n`
    if (current !== wanted && process.env.UPDATE_README === '1')
      writeFileSync(file, readme.slice(0, begin!.index + begin![0].length) + wanted + readme.slice(end))
    else expect(current, 'README is stale: UPDATE_README=1 npx vitest run src/runtime/cli-help.test.ts').toBe(wanted)
  })
})
