/**
 * createApp(deps): the whole HTTP surface as one Hono app — reserved `/_coffer/*` routes, then
 * every other request to the S3 handler. No runtime specifics here; adapters serve `app.fetch`.
 */
import { Hono } from 'hono'
import type { Platform } from './util/platform.ts'

export interface AppDeps {
  // filled in by the lead: service, platform, region, domain
  platform: Platform
  region: string
  domain?: string
}

export function createApp(_deps: AppDeps): Hono {
  const app = new Hono()
  app.get('/_coffer/health', (c) => c.json({ status: 'ok' }))
  return app
}
