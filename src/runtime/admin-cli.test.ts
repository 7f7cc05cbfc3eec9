import { describe, expect, it } from 'vitest'
import { adminRequest } from './admin-cli.ts'

/** The request `coffer admin ARGV` would send, or its usage problems joined (or its help). */
const call = (argv: string[], env: Record<string, string> = {}) => {
  const r = adminRequest(argv, env)
  if ('call' in r) return r.call
  return 'help' in r ? r.help : r.problems.join('\n')
}

describe('coffer admin namespace/user/key commands', () => {
  it('map to admin API requests', () => {
    expect(call(['namespace', 'create', 't1'])).toMatchObject({
      method: 'POST',
      path: '/namespaces',
      payload: { name: 't1', encryption: true },
    })
    expect(call(['namespace', 'create', 't1', '--encryption', 'off'])).toMatchObject({
      payload: { name: 't1', encryption: false },
    })
    expect(call(['namespace', 'list'])).toMatchObject({ method: 'GET', path: '/namespaces' })
    expect(call(['namespace', 'delete', 't1'])).toMatchObject({ method: 'DELETE', path: '/namespaces/t1' })
    expect(call(['namespace', 'delete', 't1', '--force'])).toMatchObject({ path: '/namespaces/t1?force=true' })
    expect(call(['user', 'create', 'alice', '--namespace', 't1'])).toMatchObject({
      method: 'POST',
      path: '/users',
      payload: { name: 'alice', namespace: 't1' },
    })
    expect(call(['user', 'list', '--namespace', 't 1'])).toMatchObject({
      method: 'GET',
      path: '/users?namespace=t%201',
    })
    expect(call(['user', 'list'])).toMatchObject({ method: 'GET', path: '/users' })
    expect(call(['user', 'delete', 'AKID'])).toMatchObject({ method: 'DELETE', path: '/users/AKID' })
    expect(call(['user', 'create', 'app', '--namespace', 't1', '--policy', 'readonly'])).toMatchObject({
      payload: { name: 'app', namespace: 't1', policy: 'readonly' },
    })
    expect(call(['user', 'policy', 'set', 'AKID', 'p.json'])).toMatchObject({
      method: 'PUT',
      path: '/users/AKID/policy',
      payload: {},
      payloadFile: { path: 'p.json', field: 'document' },
    })
    expect(call(['user', 'policy', 'set', 'AKID', '--builtin', 'writeonly'])).toMatchObject({
      method: 'PUT',
      payload: { builtin: 'writeonly' },
      payloadFile: undefined,
    })
    expect(call(['user', 'policy', 'get', 'AKID'])).toMatchObject({ method: 'GET', path: '/users/AKID/policy' })
    expect(call(['user', 'policy', 'delete', 'AKID'])).toMatchObject({ method: 'DELETE', path: '/users/AKID/policy' })
    expect(call(['namespace', 'public-access', 't1'])).toMatchObject({
      method: 'GET',
      path: '/namespaces/t1/public-access-block',
    })
    expect(call(['namespace', 'public-access', 't1', '--set', 'off'])).toMatchObject({
      method: 'PUT',
      payload: {
        BlockPublicAcls: false,
        IgnorePublicAcls: false,
        BlockPublicPolicy: false,
        RestrictPublicBuckets: false,
      },
    })
    expect(call(['key', 'rotate', '--master'])).toMatchObject({
      method: 'POST',
      path: '/keys/rotate',
      payload: { master: true },
    })
    expect(call(['key', 'rotate', '--namespace', 't1'])).toMatchObject({ payload: { namespace: 't1' } })
    expect(call(['bucket', 'stats', 'my.bucket'])).toMatchObject({ method: 'GET', path: '/buckets/my.bucket/stats' })
    expect(call(['heal', 'status'])).toMatchObject({ method: 'GET', path: '/heal' })
    expect(call(['lifecycle', 'status'])).toMatchObject({ method: 'GET', path: '/lifecycle' })
    expect(call(['lifecycle'])).toMatchObject({ method: 'GET', path: '/lifecycle' })
    expect(call(['heal', 'run'])).toMatchObject({ method: 'POST', path: '/heal' })
    expect(call(['heal'])).toMatchObject({ method: 'GET', path: '/heal' }) // heal's default verb
  })

  it('takes the common flags before the group or after the verb, flag over env over default', () => {
    const flags = (argv: string[], env: Record<string, string> = {}) => {
      const r = adminRequest(argv, env)
      if (!('flags' in r)) throw new Error(JSON.stringify(r))
      return r.flags
    }
    expect(flags(['heal', 'status'])).toEqual({
      endpoint: 'https://127.0.0.1:9000',
      ca: undefined,
      data: './data',
      region: 'us-east-1',
      json: false,
    })
    expect(
      flags(['--endpoint', 'https://a:1', '--json', 'user', 'list', '--data=/d', '--region', 'eu-west-1', '--ca', 'c']),
    ).toEqual({ endpoint: 'https://a:1', ca: 'c', data: '/d', region: 'eu-west-1', json: true })
    const env = { COFFER_ENDPOINT: 'https://e:2', COFFER_DATA: '/e', COFFER_REGION: 'ap-south-1' }
    expect(flags(['heal'], env)).toMatchObject({ endpoint: 'https://e:2', data: '/e', region: 'ap-south-1' })
    expect(flags(['heal', '--endpoint', 'https://f:3'], env)).toMatchObject({ endpoint: 'https://f:3' })
  })

  it('refuse malformed arguments, naming what to change', () => {
    expect(call(['namespace', 'create'])).toMatch(/NAME is missing/)
    expect(call(['namespace', 'create', 't1', '--encryption', 'maybe'])).toMatch(/on or off/)
    expect(call(['user', 'create', 'alice'])).toMatch(/--namespace NS is required/)
    expect(call(['user', 'delete'])).toMatch(/ACCESSKEY is missing/)
    expect(call(['user', 'delete', 'a', 'b'])).toMatch(/unexpected argument "b"/)
    expect(call(['key', 'rotate'])).toMatch(/one of --master and --namespace/)
    expect(call(['key', 'rotate', '--master', '--namespace', 'x'])).toMatch(/one of --master and --namespace/)
    expect(call(['namespace', 'delete', 't1', '--bogus'])).toMatch(/unknown flag --bogus/)
    expect(call(['heal', 'status', '--force'])).toMatch(/unknown flag --force/) // another verb's flag
    expect(call([])).toMatch(/which group\? the groups are heal, namespace, user, bucket, kms, key/)
    expect(call(['namespace'])).toMatch(/which verb\? namespace has create, list, delete/)
    expect(call(['nope', 'x'])).toMatch(/unknown group "nope"/)
    expect(call(['user', 'nope'])).toMatch(/unknown verb "nope": user has create, list, delete, policy/)
    expect(call(['user', 'policy', 'set', 'AKID'])).toMatch(/policy set needs FILE or --builtin NAME/)
    expect(call(['user', 'policy', 'show', 'AKID'])).toMatch(/policy takes set, get or delete, got "show"/)
    expect(call(['user', 'policy', 'get'])).toMatch(/ACCESSKEY is missing/)
    expect(call(['namespace', 'public-access', 't1', '--set', 'maybe'])).toMatch(/--set takes on or off/)
  })

  it('--help at each level: every group, one group, one verb', () => {
    expect(call(['--help'])).toMatch(/coffer admin heal status[\s\S]*coffer admin key rotate/)
    const user = call(['user', '--help'])
    expect(user).toMatch(/coffer admin user create NAME --namespace NS/)
    expect(user).not.toMatch(/namespace create/)
    expect(call(['heal', '-h'])).toMatch(/heal run/) // the group, not heal's default verb
    expect(call(['key', 'rotate', '--help'])).toMatch(/^Usage: coffer admin key rotate[\s\S]*--master/)
  })

  it("prints a new user's secret once, in human form", () => {
    const c = call(['user', 'create', 'alice', '--namespace', 't1'])
    if (typeof c === 'string' || !c.format) throw new Error('expected a formatted call')
    expect(c.format({ name: 'alice', namespace: 't1', accessKeyId: 'AK', secretAccessKey: 'SK' })).toMatch(
      /Access key: AK[\s\S]*Secret key: SK/,
    )
  })
})
