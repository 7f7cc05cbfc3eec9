import { describe, expect, it } from 'vitest'
import type { RuntimeAdapter } from './adapter.ts'
import { EXIT_USAGE, parseFlags, splitWords, type CommandSpec } from './args.ts'
import { main } from './cli.ts'
import { COMMANDS } from './commands.ts'

const CMD = {
  name: 'coffer test',
  summary: 'a command for these tests',
  flags: {
    dir: { type: 'string', value: 'DIR', env: 'T_DIR', default: './d', help: 'a directory' },
    port: { type: 'int', value: 'N', env: 'T_PORT', default: 9000, help: 'a port' },
    count: { type: 'int', value: 'N', help: 'a count without default' },
    names: { type: 'list', value: 'NAMES', env: 'T_NAMES', help: 'names' },
    need: { type: 'string', value: 'X', env: 'T_NEED', required: true, help: 'a required one' },
    force: { type: 'boolean', help: 'a switch' },
  },
} as const satisfies CommandSpec

const parse = (argv: string[], env: Record<string, string> = {}) => parseFlags(CMD, ['--need', 'n', ...argv], env)
const problems = (argv: string[], env: Record<string, string> = {}) => parse(argv, env).problems

describe('parseFlags', () => {
  it('defaults when neither flag nor env gives a value', () => {
    expect(parse([])).toEqual({
      values: { dir: './d', port: 9000, count: undefined, names: [], need: 'n', force: false },
      positionals: [],
      help: false,
      problems: [],
    })
  })

  it('takes --flag value and --flag=value alike', () => {
    expect(parse(['--dir', '/a', '--port=1', '--count', '7', '--names=x,y', '--force']).values).toMatchObject({
      dir: '/a',
      port: 1,
      count: 7,
      names: ['x', 'y'],
      force: true,
    })
    // A value may contain '=' and start with a single dash.
    expect(parse(['--dir=a=b']).values.dir).toBe('a=b')
    expect(parse(['--dir', '-x']).values.dir).toBe('-x')
  })

  it('falls back to the environment; the flag wins; an empty variable counts as unset', () => {
    const env = { T_DIR: '/env', T_PORT: '9100', T_NAMES: 'e1, e2' }
    expect(parse([], env).values).toMatchObject({ dir: '/env', port: 9100, names: ['e1', 'e2'] })
    expect(parse(['--dir', '/flag', '--port', '1', '--names', 'f'], env).values).toMatchObject({
      dir: '/flag',
      port: 1,
      names: ['f'],
    })
    expect(parse([], { T_DIR: '', T_PORT: '' }).values).toMatchObject({ dir: './d', port: 9000 })
    // A required flag is satisfied by its variable.
    expect(parseFlags(CMD, [], { T_NEED: 'from-env' })).toMatchObject({ problems: [], values: { need: 'from-env' } })
  })

  it('refuses an unknown flag, naming it and the known ones, and does not take its value as an argument', () => {
    expect(problems(['--prot', '9000'])).toEqual([
      'unknown flag --prot: known flags are --dir, --port, --count, --names, --need, --force',
    ])
    expect(problems(['--prot=9000', '-x'])).toHaveLength(2)
    expect(problems(['-x'])[0]).toMatch(/^unknown flag -x:/)
    expect(problems(['--constructor', '--toString=1'])).toHaveLength(2)
  })

  it('refuses a missing value: at the end, empty, or when the next word is a flag (parsed on from there)', () => {
    expect(problems(['--dir'])).toEqual(['--dir needs a value: --dir DIR'])
    expect(problems(['--dir='])).toEqual(['--dir needs a value: --dir DIR'])
    const p = parse(['--dir', '--port', '1'])
    expect(p.problems).toEqual(['--dir needs a value: --dir DIR'])
    expect(p.values.port).toBe(1)
    expect(problems(['--dir', '--dir', '--dir'])).toHaveLength(3)
  })

  it('refuses a bad number, naming the flag or the variable, and keeps the default', () => {
    for (const bad of ['abc', '-1', '1.5', '1e3', '0x10', '1234567890'])
      expect(problems(['--port', bad])).toEqual([`--port needs a whole number, got "${bad}"`])
    expect(problems([], { T_PORT: 'six' })).toEqual(['T_PORT needs a whole number, got "six"'])
    expect(parse(['--port', 'x']).values.port).toBe(9000)
    expect(parse(['--port', ' 42 ']).values.port).toBe(42)
  })

  it('a value flag given twice is refused; a list repeats and adds up; a switch may repeat', () => {
    expect(problems(['--port', '1', '--port', '2'])).toEqual(['--port is given twice: keep one'])
    expect(problems(['--port', '1', '--port', '2', '--port', '3'])).toEqual(['--port is given twice: keep one'])
    expect(parse(['--names', 'a', '--names=b,c', '--names', ' ,d']).values.names).toEqual(['a', 'b', 'c', 'd'])
    expect(parse(['--force', '--force'])).toMatchObject({ problems: [], values: { force: true } })
    expect(problems(['--force=yes'])).toEqual(['--force takes no value: give --force alone'])
  })

  it('a required flag that is missing says which, its variable and what it is for', () => {
    expect(parseFlags(CMD, [], {}).problems).toEqual(['--need X is required (or set T_NEED): a required one'])
  })

  it('positionals: exactly the declared ones; -- ends the flags', () => {
    const withArgs = { ...CMD, args: ['NAME'] }
    expect(parseFlags(withArgs, ['a', '--need', 'n'], {})).toMatchObject({ positionals: ['a'], problems: [] })
    expect(parseFlags(withArgs, ['--need', 'n'], {}).problems).toEqual(['NAME is missing'])
    expect(parseFlags(withArgs, ['a', 'b', '--need', 'n'], {}).problems).toEqual(['unexpected argument "b"'])
    expect(problems(['stray'])[0]).toMatch(/^unexpected argument "stray": this command takes flags only/)
    expect(parseFlags(withArgs, ['--need', 'n', '--', '--dir'], {})).toMatchObject({
      positionals: ['--dir'],
      problems: [],
    })
  })

  it('--help and -h are seen among anything else', () => {
    expect(parse(['--bogus', '--help']).help).toBe(true)
    expect(parse(['-h']).help).toBe(true)
    expect(parse([]).help).toBe(false)
  })
})

describe('splitWords', () => {
  it('finds the sub-command words wherever the common flags are', () => {
    const common = { data: { type: 'string', value: 'DIR', help: 'd' }, json: { type: 'boolean', help: 'j' } } as const
    expect(splitWords(common, ['--data', 'user', 'user', 'create', 'alice', '--json'], 2)).toEqual({
      words: ['user', 'create'],
      rest: ['--data', 'user', 'alice', '--json'],
      help: false,
    })
    expect(splitWords(common, ['-h'], 2)).toEqual({ words: [], rest: ['-h'], help: true })
  })
})

describe('usage errors of every command', () => {
  const noServe: RuntimeAdapter = {
    name: 'node',
    serve: () => Promise.reject(new Error('serve must not be called')),
    limits: [],
    onSignals: () => {},
    exit: (code) => {
      throw new Error(`exit ${code}`)
    },
  }

  it.each(COMMANDS.map((c) => [c.name]))('`%s --bogus` exits 2, names the flag and points at --help', async (name) => {
    const err: string[] = []
    const out: string[] = []
    const argv = [...name.split(' ').slice(1), '--bogus']
    const code = await main(argv, noServe, {}, { out: (t) => out.push(t), err: (t) => err.push(t) })
    expect(code).toBe(EXIT_USAGE)
    expect(out).toEqual([])
    expect(err.join('\n')).toMatch(new RegExp(`^${name}: unknown flag --bogus: known flags are`, 'm'))
    expect(err.join('\n')).toContain(`Run \`${name} --help\``)
  })
})
