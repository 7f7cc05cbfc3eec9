import { describe, expect, it } from 'vitest'
import { ADMIN_COMMANDS } from './admin-cli.ts'

const call = (group: string, verb: string, args: string[] = []) => ADMIN_COMMANDS[group]![verb]!(args)

describe('coffer admin namespace/user/key commands', () => {
  it('map to admin API requests', () => {
    expect(call('namespace', 'create', ['t1'])).toMatchObject({
      method: 'POST',
      path: '/namespaces',
      payload: { name: 't1', encryption: true },
    })
    expect(call('namespace', 'create', ['t1', '--encryption', 'off'])).toMatchObject({
      payload: { name: 't1', encryption: false },
    })
    expect(call('namespace', 'list')).toMatchObject({ method: 'GET', path: '/namespaces' })
    expect(call('namespace', 'delete', ['t1'])).toMatchObject({ method: 'DELETE', path: '/namespaces/t1' })
    expect(call('namespace', 'delete', ['t1', '--force'])).toMatchObject({ path: '/namespaces/t1?force=true' })
    expect(call('user', 'create', ['alice', '--namespace', 't1'])).toMatchObject({
      method: 'POST',
      path: '/users',
      payload: { name: 'alice', namespace: 't1' },
    })
    expect(call('user', 'list', ['--namespace', 't 1'])).toMatchObject({
      method: 'GET',
      path: '/users?namespace=t%201',
    })
    expect(call('user', 'delete', ['AKID'])).toMatchObject({ method: 'DELETE', path: '/users/AKID' })
    expect(call('key', 'rotate', ['--master'])).toMatchObject({
      method: 'POST',
      path: '/keys/rotate',
      payload: { master: true },
    })
    expect(call('key', 'rotate', ['--namespace', 't1'])).toMatchObject({ payload: { namespace: 't1' } })
  })

  it('refuse malformed arguments with a usage line', () => {
    expect(call('namespace', 'create', [])).toMatch(/usage/)
    expect(call('namespace', 'create', ['t1', '--encryption', 'maybe'])).toMatch(/on or off/)
    expect(call('user', 'create', ['alice'])).toMatch(/--namespace/)
    expect(call('key', 'rotate', [])).toMatch(/usage/)
    expect(call('key', 'rotate', ['--master', '--namespace', 'x'])).toMatch(/usage/)
    expect(call('namespace', 'delete', ['t1', '--bogus'])).toMatch(/unknown option/)
  })

  it("prints a new user's secret once, in human form", () => {
    const c = call('user', 'create', ['alice', '--namespace', 't1'])
    if (typeof c === 'string' || !c.format) throw new Error('expected a formatted call')
    expect(c.format({ name: 'alice', namespace: 't1', accessKeyId: 'AK', secretAccessKey: 'SK' })).toMatch(
      /Access key: AK[\s\S]*Secret key: SK/,
    )
  })
})
