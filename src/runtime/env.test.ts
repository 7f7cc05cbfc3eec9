import { describe, expect, it } from 'vitest'
import { join, resolve } from 'node:path'
import { DEFAULTS } from '../config.ts'
import { parseServerArgs } from './env.ts'

const ok = (args: string[], env: Record<string, string> = {}) => {
  const r = parseServerArgs(args, env)
  if (!r.ok) throw new Error(r.problems.join('; '))
  if (r.help) throw new Error('expected a config, got help')
  return r.config
}
const problems = (args: string[], env: Record<string, string> = {}) => {
  const r = parseServerArgs(args, env)
  if (r.ok) throw new Error('expected problems')
  return r.problems
}

describe('parseServerArgs', () => {
  it('defaults: DEFAULTS, absolute data dir, meta file inside it', () => {
    const c = ok([])
    expect(c).toMatchObject({
      host: DEFAULTS.host,
      port: DEFAULTS.port,
      region: DEFAULTS.region,
      drives: DEFAULTS.drives,
    })
    expect(c.dataDir).toBe(resolve(DEFAULTS.dataDir))
    expect(c.metaUrl).toBe(`file:${join(resolve(DEFAULTS.dataDir), 'meta.db')}`)
    expect(c.domain).toBeUndefined()
    expect(c.certFile).toBeUndefined()
  })

  it('--sigv2: on by default, off by flag or COFFER_SIGV2, anything else named', () => {
    expect(ok([]).sigv2).toBe(true)
    expect(ok(['--sigv2', 'off']).sigv2).toBe(false)
    expect(ok([], { COFFER_SIGV2: 'off' }).sigv2).toBe(false)
    expect(ok(['--sigv2', 'on'], { COFFER_SIGV2: 'off' }).sigv2).toBe(true)
    expect(problems(['--sigv2', 'no'])).toEqual(['--sigv2 must be on or off, got "no"'])
  })

  it('--direct-io: on by default, off by flag or COFFER_DIRECT_IO, anything else named', () => {
    expect(ok([]).directIo).toBe(true)
    expect(ok(['--direct-io', 'off']).directIo).toBe(false)
    expect(ok([], { COFFER_DIRECT_IO: 'off' }).directIo).toBe(false)
    expect(ok(['--direct-io=on'], { COFFER_DIRECT_IO: 'off' }).directIo).toBe(true)
    expect(problems(['--direct-io', 'false'])).toEqual(['--direct-io must be on or off, got "false"'])
  })

  it('request limits and --min-free: defaults, flags, variables, sizes with units, bad values named', () => {
    expect(ok([])).toMatchObject({
      limits: { minRate: 1024, idleMs: 20_000, maxMs: 3_600_000, maxUploadsPerUser: 64, maxUploadsPerConnection: 8 },
      minFreeBytes: 256 * 1024 * 1024,
    })
    const c = ok(
      ['--body-min-rate', '0', '--body-idle-timeout', '5', '--max-uploads-per-user', '0', '--min-free', '2GiB'],
      { COFFER_BODY_TIME_LIMIT: '60', COFFER_MAX_UPLOADS_PER_CONNECTION: '2' },
    )
    expect(c.limits).toEqual({
      minRate: 0,
      idleMs: 5000,
      maxMs: 60_000,
      maxUploadsPerUser: 0,
      maxUploadsPerConnection: 2,
    })
    expect(c.minFreeBytes).toBe(2 * 1024 ** 3)
    expect(ok(['--min-free', '1048576']).minFreeBytes).toBe(1048576)
    expect(ok(['--min-free', '512 mib']).minFreeBytes).toBe(512 * 1024 ** 2)
    expect(problems(['--min-free', '5%'])).toEqual([
      '--min-free takes a size like 512MiB, 2GiB or 1048576 (bytes), got "5%"',
    ])
    expect(problems(['--body-idle-timeout', '120'])[0]).toMatch(/--body-idle-timeout must be 1\.\.100 seconds/)
    expect(problems(['--body-idle-timeout', '0'])[0]).toMatch(/--body-idle-timeout must be 1\.\.100 seconds/)
    expect(problems(['--body-idle-timeout', '30', '--body-time-limit', '10'])).toEqual([
      '--body-time-limit must be 0 (none) or at least --body-idle-timeout, got 10',
    ])
  })

  it('flags in both spellings', () => {
    const c = ok([
      '--data',
      '/srv/x',
      '--port=0',
      '--host',
      '::1',
      '--region',
      'eu-west-1',
      '--domain',
      'S3.Example.com',
      '--drives',
      '3',
    ])
    expect(c).toMatchObject({
      dataDir: '/srv/x',
      port: 0,
      host: '::1',
      region: 'eu-west-1',
      domain: 's3.example.com',
      drives: 3,
      metaUrl: 'file:/srv/x/meta.db',
    })
  })

  it('env fills what flags do not give; flags win; empty env counts as unset', () => {
    const env = {
      COFFER_DATA: '/e',
      COFFER_PORT: '9100',
      COFFER_REGION: 'ap-south-1',
      COFFER_DOMAIN: '',
      COFFER_META_URL: 'http://127.0.0.1:8080',
      COFFER_META_AUTH_TOKEN: 'tok',
      COFFER_DRIVES: '4',
    }
    const c = ok(['--port', '9200'], env)
    expect(c).toMatchObject({
      dataDir: '/e',
      port: 9200,
      region: 'ap-south-1',
      metaUrl: 'http://127.0.0.1:8080',
      metaAuthToken: 'tok',
      drives: 4,
    })
    expect(c.domain).toBeUndefined()
  })

  it('cert and key become absolute paths and must come together', () => {
    const c = ok(['--cert', 'a.pem', '--key', 'k.pem'])
    expect(c.certFile).toBe(resolve('a.pem'))
    expect(c.keyFile).toBe(resolve('k.pem'))
    expect(problems(['--cert', 'a.pem']).join()).toMatch(/--cert and --key go together/)
  })

  it('codec: simd by default, baseline on request, anything else refused', () => {
    expect(ok([]).codec).toBe('simd')
    expect(ok(['--codec', 'baseline']).codec).toBe('baseline')
    expect(ok([], { COFFER_CODEC: 'baseline' }).codec).toBe('baseline')
    expect(problems(['--codec', 'isa-l'])[0]).toMatch(/--codec must be simd or baseline, got "isa-l"/)
  })

  it('refuses unknown flags, naming the known ones', () => {
    const p = problems(['--prot', '9000'])
    expect(p).toHaveLength(1)
    expect(p[0]).toMatch(/unknown flag --prot: known flags are .*--port/)
  })

  it('refuses bad numbers once, saying which flag or variable', () => {
    expect(problems(['--port', 'abc'])).toEqual(['--port needs a whole number, got "abc"'])
    expect(problems([], { COFFER_DRIVES: 'six' })).toEqual(['COFFER_DRIVES needs a whole number, got "six"'])
    expect(problems(['--port', '70000'])[0]).toMatch(/--port must be 0..65535/)
    expect(problems(['--drives', '0'])[0]).toMatch(/--drives must be 1..64/)
  })

  it('refuses a flag without value, a repeated flag and stray arguments', () => {
    expect(problems(['--data'])[0]).toMatch(/--data needs a value: --data DIR/)
    expect(problems(['--domain', '--port', '1'])[0]).toMatch(/--domain needs a value/)
    expect(problems(['--port', '1', '--port', '2'])[0]).toMatch(/given twice/)
    expect(problems(['extra'])[0]).toMatch(/unexpected argument "extra"/)
  })

  it('refuses an invalid region via validateConfig', () => {
    expect(problems(['--region', 'US_EAST'])[0]).toMatch(/--region must look like/)
  })

  it('--help is recognised among other flags', () => {
    const r = parseServerArgs(['--port', '1', '--help'], {})
    expect(r.ok && r.help).toBe(true)
  })
})
