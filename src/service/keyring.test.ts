import { describe, expect, it } from 'vitest'
import { masterKeyFingerprint } from '../crypto/index.ts'
import * as meta from '../meta/index.ts'
import type { MasterKeyFile } from './context.ts'
import { checkMasterKey, FINGERPRINT_SETTING, MasterKeyMismatchError } from './keyring.ts'

const key = (b: number) => new Uint8Array(32).fill(b)

/** A MasterKeyFile that records what the service asked of it. */
function fakeFile(k: Uint8Array, over: Partial<MasterKeyFile> = {}) {
  const calls: string[] = []
  const file: MasterKeyFile = {
    key: k,
    generated: false,
    where: '/data/master.key',
    save: async () => void calls.push('save'),
    stage: async () => void calls.push('stage'),
    promote: async () => void calls.push('promote'),
    discard: async () => void calls.push('discard'),
    ...over,
  }
  return { file, calls }
}

async function db() {
  return (await meta.openDb(':memory:')).db
}

describe('checkMasterKey', () => {
  it('first start: saves a generated key, then records its fingerprint', async () => {
    const d = await db()
    const { file, calls } = fakeFile(key(1), { generated: true })
    expect(await checkMasterKey(d, file)).toEqual(key(1))
    expect(calls).toEqual(['save'])
    expect(await meta.getSetting(d, FINGERPRINT_SETTING)).toBe(await masterKeyFingerprint(key(1)))
  })

  it('the right key: accepted; a staged key of an unfinished rotation is discarded', async () => {
    const d = await db()
    await meta.setSetting(d, FINGERPRINT_SETTING, await masterKeyFingerprint(key(1)))
    const { file, calls } = fakeFile(key(1), { staged: key(2) })
    expect(await checkMasterKey(d, file)).toEqual(key(1))
    expect(calls).toEqual(['discard'])
  })

  it('a committed rotation whose file was not renamed yet: the staged key is promoted', async () => {
    const d = await db()
    await meta.setSetting(d, FINGERPRINT_SETTING, await masterKeyFingerprint(key(2)))
    const { file, calls } = fakeFile(key(1), { staged: key(2) })
    expect(await checkMasterKey(d, file)).toEqual(key(2))
    expect(calls).toEqual(['promote'])
  })

  it('a wrong key, or a missing file after first start: refused, nothing written', async () => {
    const d = await db()
    const print = await masterKeyFingerprint(key(1))
    await meta.setSetting(d, FINGERPRINT_SETTING, print)
    for (const over of [{}, { generated: true }]) {
      const { file, calls } = fakeFile(key(9), over)
      const err = await checkMasterKey(d, file).catch((e: unknown) => e)
      expect(err).toBeInstanceOf(MasterKeyMismatchError)
      expect(String(err)).toContain('/data/master.key')
      expect(calls).toEqual([])
    }
    expect(await meta.getSetting(d, FINGERPRINT_SETTING)).toBe(print)
  })
})
