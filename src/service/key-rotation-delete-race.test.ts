/**
 * A namespace deleted through another gateway while this one rotates its key (both share one
 * metadata; each gateway's key lock is its own). Seen before the fix: the rotation's commit found
 * no namespace row, kept the row it had read and went round again — for up to a million rounds,
 * holding the key lock (this test timed out). Now it ends with NoSuchNamespace.
 *
 * The interleaving is made certain by one hook: the rotation's first scan for records to re-wrap
 * (after its key is staged) first lets the other gateway delete the namespace. Everything else is
 * real: two services over one libSQL file and the same drives.
 */
import { afterEach, expect, it, vi } from 'vitest'
import { type Gateways, openGateways } from './gateways.testkit.ts'
import { createNamespace, deleteNamespace, listNamespaces, rotateNamespaceKey, type Service } from './index.ts'

const hook = vi.hoisted(() => ({ beforeScan: undefined as undefined | (() => Promise<void>) }))

vi.mock(import('../meta/index.ts'), async (importOriginal) => {
  const meta = await importOriginal()
  return {
    ...meta,
    recordsToRewrap: async (...args: Parameters<typeof meta.recordsToRewrap>) => {
      const run = hook.beforeScan
      hook.beforeScan = undefined
      await run?.()
      return meta.recordsToRewrap(...args)
    },
  }
})

let gateways: Gateways | undefined
afterEach(async () => {
  hook.beforeScan = undefined
  await gateways?.close()
  gateways = undefined
})

it('a rotation whose namespace another gateway deletes ends with NoSuchNamespace, and releases its key lock', async () => {
  gateways = await openGateways(2)
  const [a, b] = gateways.services as [Service, Service]
  await createNamespace(a, 'tenant', true)
  await createNamespace(a, 'other', true)
  hook.beforeScan = async () => {
    await deleteNamespace(b, 'tenant')
  }
  await expect(rotateNamespaceKey(a, 'tenant')).rejects.toMatchObject({ code: 'NoSuchNamespace' })
  expect((await listNamespaces(a)).map((n) => n.name)).not.toContain('tenant')
  // The key lock is free again: the next rotation on this gateway runs.
  await expect(rotateNamespaceKey(a, 'other')).resolves.toMatchObject({ namespace: 'other', keyVersion: 2 })
}, 30_000)
