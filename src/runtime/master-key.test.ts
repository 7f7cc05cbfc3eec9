import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { loadMasterKeyFile, parseKeyFile } from './master-key.ts'

const bytes = Uint8Array.from({ length: 32 }, (_, i) => i * 7)

describe('parseKeyFile', () => {
  it('accepts 32 raw bytes, 64 hex digits or base64, with whitespace', () => {
    expect(parseKeyFile(bytes, 'f')).toEqual(bytes)
    expect(parseKeyFile(new TextEncoder().encode(`${Buffer.from(bytes).toString('hex')}\n`), 'f')).toEqual(bytes)
    expect(parseKeyFile(new TextEncoder().encode(` ${Buffer.from(bytes).toString('base64')}\n`), 'f')).toEqual(bytes)
  })

  it('refuses anything else without echoing the content', () => {
    expect(() => parseKeyFile(new TextEncoder().encode('too short'), '/k')).toThrow(/\/k is not a master key/)
    expect(() => parseKeyFile(new Uint8Array(31), '/k')).toThrow(/32 bytes/)
  })
})

describe('loadMasterKeyFile', () => {
  let dir: string
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'coffer-mk-'))
  })
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  it('no file: a generated key, written only by save() with mode 0600', async () => {
    const f = await loadMasterKeyFile(dir, {})
    expect(f.generated).toBe(true)
    await expect(stat(join(dir, 'master.key'))).rejects.toThrow(/ENOENT/)
    await f.save()
    expect((await stat(join(dir, 'master.key'))).mode & 0o777).toBe(0o600)
    expect(new Uint8Array(await readFile(join(dir, 'master.key')))).toEqual(f.key)
    const again = await loadMasterKeyFile(dir, {})
    expect(again.generated).toBe(false)
    expect(again.key).toEqual(f.key)
  })

  it('stage / promote / discard manage <file>.new', async () => {
    const f = await loadMasterKeyFile(dir, {})
    await f.save()
    await f.stage(bytes)
    expect((await loadMasterKeyFile(dir, {})).staged).toEqual(bytes)
    await f.discard()
    expect((await loadMasterKeyFile(dir, {})).staged).toBeUndefined()
    await f.stage(bytes)
    await f.promote()
    expect((await loadMasterKeyFile(dir, {})).key).toEqual(bytes)
  })

  it('COFFER_MASTER_KEY_FILE must exist', async () => {
    await expect(loadMasterKeyFile(dir, { COFFER_MASTER_KEY_FILE: join(dir, 'nope.key') })).rejects.toThrow(
      /does not exist/,
    )
    await writeFile(join(dir, 'mine.key'), bytes)
    expect((await loadMasterKeyFile(dir, { COFFER_MASTER_KEY_FILE: join(dir, 'mine.key') })).key).toEqual(bytes)
  })
})
