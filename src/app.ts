/**
 * createApp(deps): the whole HTTP surface as one Hono app — reserved `/_coffer/*` routes, then
 * every other request to the S3 handler. No runtime specifics here; adapters serve `app.fetch`.
 */
import { Hono } from 'hono'
import { createAdminRoutes } from './admin/routes.ts'
import { createAuthenticator, createS3Handler } from './s3/handler.ts'
import { type Health, health, type Service } from './service/index.ts'
import { consoleLogger, type Logger } from './util/log.ts'
import type { Platform } from './util/platform.ts'

export interface AppDeps {
  service: Service
  platform: Platform
  region: string
  /** Enables virtual-hosted-style addressing under this domain. */
  domain?: string
  logger?: Logger
}

/** What an adapter may pass as Hono's `env`: the request target before any URL normalisation. */
export interface AdapterEnv {
  rawTarget?: string
}

/** Prometheus text exposition of the durability counters and store states. */
function prometheusText(h: Health): string {
  const lines = [
    '# TYPE coffer_store_up gauge',
    ...h.stores.map((s) => `coffer_store_up{store="${s.id}"} ${s.up ? 1 : 0}`),
    '# TYPE coffer_heal_backlog gauge',
    `coffer_heal_backlog ${h.healBacklog}`,
  ]
  for (const [name, value] of Object.entries(h.stats)) {
    const metric = `coffer_${name.replace(/[A-Z]/g, (ch) => `_${ch.toLowerCase()}`)}_total`
    lines.push(`# TYPE ${metric} counter`, `${metric} ${value}`)
  }
  return `${lines.join('\n')}\n`
}

export function createApp(deps: AppDeps): Hono {
  const app = new Hono()
  const s3 = createS3Handler({ ...deps, logger: deps.logger ?? consoleLogger })
  // Bucket names cannot contain '_', so this prefix never shadows a bucket.
  // 200 while writes can reach their quorum; the body says which stores are down and what
  // is waiting to be healed.
  app.get('/_coffer/health', async (c) => {
    const h = await health(deps.service)
    return c.json(h, h.status === 'ok' ? 200 : 503)
  })
  const authenticate = createAuthenticator(deps)
  app.route(
    '/_coffer/admin',
    createAdminRoutes({
      service: deps.service,
      authenticate: (req) => authenticate(req),
      logger: deps.logger ?? consoleLogger,
    }),
  )
  app.get('/_coffer/metrics', async (c) =>
    c.text(prometheusText(await health(deps.service)), 200, { 'content-type': 'text/plain; version=0.0.4' }),
  )
  // Hono dispatches HEAD as GET and drops the body; the handler reads the raw method, so
  // HeadObject stays a metadata-only operation.
  app.all('*', (c) => s3(c.req.raw, (c.env as AdapterEnv | undefined)?.rawTarget))
  return app
}
