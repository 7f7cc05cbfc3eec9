/**
 * The operator API under /_coffer/admin/: JSON over HTTPS, SigV4-signed by the root user.
 * Durability status and maintenance now; namespaces, users and keys join it with D@RE.
 */
import { Hono } from 'hono'
import type { Service } from '../service/context.ts'
import type { Actor } from '../service/identities.ts'

export interface AdminDeps {
  service: Service
  /** Verifies the request's signature; rejects with an error carrying `status` and `code`. */
  authenticate: (req: Request) => Promise<Actor>
}

interface HttpishError {
  status?: number
  code?: string
  message?: string
}

export function createAdminRoutes(deps: AdminDeps): Hono {
  const admin = new Hono()
  admin.use('*', async (c, next) => {
    let actor: Actor
    try {
      actor = await deps.authenticate(c.req.raw)
    } catch (e) {
      const err = e as HttpishError
      return c.json({ error: err.code ?? 'AccessDenied', message: err.message ?? 'Access Denied.' }, (err.status ?? 403) as 403)
    }
    if (!actor.isRoot) return c.json({ error: 'AccessDenied', message: 'The admin API is for the root user only.' }, 403)
    await next()
  })
  admin.get('/heal', async (c) => c.json(await deps.service.health()))
  /** A full pass now: scrub every object, heal what needs it, collect garbage; returns the result. */
  admin.post('/heal', async (c) => {
    await deps.service.maintain()
    return c.json(await deps.service.health())
  })
  admin.notFound((c) => c.json({ error: 'NotFound', message: `No admin operation at ${c.req.method} ${c.req.path}` }, 404))
  return admin
}
