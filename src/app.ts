/**
 * createApp(deps): the whole HTTP surface as one Hono app — reserved `/_coffer/*` routes, then
 * every other request to the S3 handler. No runtime specifics here; adapters serve `app.fetch`.
 */
import { Hono } from 'hono'
import { createS3Handler } from './s3/handler.ts'
import type { Service } from './service/context.ts'
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

export function createApp(deps: AppDeps): Hono {
  const app = new Hono()
  const s3 = createS3Handler({ ...deps, logger: deps.logger ?? consoleLogger })
  // Bucket names cannot contain '_', so this prefix never shadows a bucket.
  app.get('/_coffer/health', (c) => c.json({ status: 'ok' }))
  // Hono dispatches HEAD as GET and drops the body; the handler reads the raw method, so
  // HeadObject stays a metadata-only operation.
  app.all('*', (c) => s3(c.req.raw, (c.env as AdapterEnv | undefined)?.rawTarget))
  return app
}
