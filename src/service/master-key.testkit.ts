/**
 * A master key file for tests: a fixed key (every byte `fill`), never generated, whose file
 * operations do nothing — the service's in-process tests need the key, not the file's life cycle
 * (src/service/keyring.test.ts and test/dare test that).
 */
import type { MasterKeyFile } from './context.ts'

export const testMasterKeyFile = (fill = 7): MasterKeyFile => ({
  key: new Uint8Array(32).fill(fill),
  generated: false,
  where: 'test',
  save: async () => {},
  stage: async () => {},
  promote: async () => {},
  discard: async () => {},
})
