import { describe, expect, it } from 'vitest'
import { DEFAULT_HASH_WORKERS, parseServerArgs, serverHelp } from './env.ts'

describe('--hash-workers / COFFER_HASH_WORKERS', () => {
  const parse = (args: string[], env: Record<string, string> = {}) => parseServerArgs(args, env)
  const workers = (args: string[], env: Record<string, string> = {}) => {
    const r = parse(args, env)
    if (!r.ok) throw new Error(r.problems.join('; '))
    if (r.help) throw new Error('expected a config, got help')
    return r.config.hashWorkers
  }

  it('defaults to one worker; flag and env set it; the flag wins; 0 keeps hashing on the request thread', () => {
    expect(DEFAULT_HASH_WORKERS).toBe(1)
    expect(workers([])).toBe(DEFAULT_HASH_WORKERS)
    expect(workers(['--hash-workers', '0'])).toBe(0)
    expect(workers(['--hash-workers=3'])).toBe(3)
    expect(workers([], { COFFER_HASH_WORKERS: '2' })).toBe(2)
    expect(workers(['--hash-workers', '0'], { COFFER_HASH_WORKERS: '2' })).toBe(0)
  })

  it('refuses what is not a small whole number, naming the flag or the variable', () => {
    const problems = (args: string[], env: Record<string, string> = {}) => {
      const r = parse(args, env)
      return r.ok ? [] : r.problems
    }
    expect(problems(['--hash-workers', 'two'])).toEqual(['--hash-workers needs a whole number, got "two"'])
    expect(problems([], { COFFER_HASH_WORKERS: '-1' })).toEqual(['COFFER_HASH_WORKERS needs a whole number, got "-1"'])
    expect(problems(['--hash-workers', '65'])).toEqual(['--hash-workers must be 0..64, got 65'])
  })

  it('is in the help text with its variable', () => {
    expect(serverHelp()).toMatch(/--hash-workers N\s[\s\S]*\[env\s+COFFER_HASH_WORKERS;\s+default\s+1\]/)
  })
})
