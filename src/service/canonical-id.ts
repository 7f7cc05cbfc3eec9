/** The canonical id of a namespace: the owner id ACLs and CanonicalUser principals name (README, Access control). */
import { toHex, utf8 } from '../util/bytes.ts'
import type { ServiceContext } from './context.ts'

export function canonicalId(ctx: ServiceContext, namespace: string): string {
  const h = ctx.platform.createHasher('sha256')
  h.update(utf8(`coffer-namespace:${namespace}`))
  return toHex(h.digest())
}
