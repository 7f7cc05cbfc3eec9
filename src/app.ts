/**
 * createApp(deps): the whole HTTP surface as one Hono app — reserved `/_coffer/*` routes, then
 * every other request to the S3 handler. No runtime specifics here; adapters serve `app.fetch`.
 */
import { Hono } from 'hono'
import { createAdminRoutes } from './admin/routes.ts'
import { createConsoleRoutes } from './console/routes.tsx'
import { createAuthenticator, createS3Handler, type RequestLimits } from './s3/handler.ts'
import {
  type Health,
  health,
  type LifecycleStatus,
  lifecycleStatus,
  type RebalanceStatus,
  rebalanceStatus,
  type Service,
} from './service/index.ts'
import { consoleLogger, type Logger } from './util/log.ts'
import type { Platform } from './util/platform.ts'
import { RequestMetrics, type Totals } from './util/request-metrics.ts'

export interface AppDeps {
  service: Service
  platform: Platform
  region: string
  /** Enables virtual-hosted-style addressing under this domain. */
  domain?: string
  logger?: Logger
  /** Request-body time limits and upload concurrency (defaults in src/s3/handler.ts). */
  limits?: Partial<RequestLimits>
  /** Accept AWS Signature Version 2 (default true). */
  sigv2?: boolean
  /** The last hour of S3 requests for the console's charts (default: a new ring per app). */
  requestMetrics?: RequestMetrics
}

/** What an adapter may pass as Hono's `env`. */
export interface AdapterEnv {
  /** The request target before any URL normalisation. */
  rawTarget?: string
  /** The client connection, `address:port`: upload limits per connection count by it. */
  connection?: string
}

/** The lifecycle worker's progress (docs/architecture.md §9) as Prometheus lines. */
function lifecycleLines(l: LifecycleStatus): string[] {
  const lines = [
    '# TYPE coffer_lifecycle_rules gauge',
    `coffer_lifecycle_rules ${l.rules}`,
    '# TYPE coffer_lifecycle_running gauge',
    `coffer_lifecycle_running ${l.running ? 1 : 0}`,
  ]
  for (const [name, value] of Object.entries(l.totals)) {
    const metric = `coffer_lifecycle_${name.replace(/[A-Z]/g, (ch) => `_${ch.toLowerCase()}`)}_total`
    lines.push(`# TYPE ${metric} counter`, `${metric} ${value}`)
  }
  if (l.lastPass)
    lines.push(
      '# TYPE coffer_lifecycle_last_run_seconds gauge',
      `coffer_lifecycle_last_run_seconds ${l.lastPass.endedAt / 1000}`,
    )
  return lines
}

/** The S3 request counters the console's charts are drawn from, as Prometheus lines. */
function requestLines(t: Totals): string[] {
  return [
    '# TYPE coffer_s3_requests_total counter',
    `coffer_s3_requests_total ${t.requests}`,
    '# TYPE coffer_s3_request_errors_total counter',
    `coffer_s3_request_errors_total ${t.errors}`,
    '# TYPE coffer_s3_received_bytes_total counter',
    `coffer_s3_received_bytes_total ${t.bytesIn}`,
    '# TYPE coffer_s3_sent_bytes_total counter',
    `coffer_s3_sent_bytes_total ${t.bytesOut}`,
  ]
}

/**
 * The S3 handler, each request counted in the ring: latency to the response's headers, bytes by
 * Content-Length (a request or answer without one counts 0), 5xx as errors. The console's own
 * S3 calls pass through here too, so its uploads and downloads are on the charts once.
 */
function counted(s3: S3Handler, metrics: RequestMetrics): S3Handler {
  const length = (h: Headers) => Number(h.get('content-length') ?? 0)
  return async (req, rawTarget, connection) => {
    const start = performance.now()
    let status = 500
    let bytesOut = 0
    try {
      const res = await s3(req, rawTarget, connection)
      status = res.status
      bytesOut = req.method === 'HEAD' ? 0 : length(res.headers)
      return res
    } finally {
      metrics.record(Date.now(), {
        latencyMs: performance.now() - start,
        bytesIn: length(req.headers),
        bytesOut,
        status,
      })
    }
  }
}

/** The rebalance mover's progress (docs/architecture.md §14) as Prometheus lines. */
function rebalanceLines(r: RebalanceStatus): string[] {
  const p = r.currentPass
  const lines = [
    '# TYPE coffer_rebalance_running gauge',
    `coffer_rebalance_running ${r.running ? 1 : 0}`,
    '# TYPE coffer_rebalance_pending_shards gauge',
    `coffer_rebalance_pending_shards ${p ? Math.max(0, p.toMove - p.moved) : 0}`,
    '# TYPE coffer_rebalance_pending_bytes gauge',
    `coffer_rebalance_pending_bytes ${p ? Math.max(0, p.toMoveBytes - p.bytes) : 0}`,
  ]
  // Totals of finished passes plus the pass running: counters that only grow.
  for (const name of ['moved', 'bytes', 'rebuilt', 'discarded', 'errors'] as const) {
    const metric = `coffer_rebalance_${name === 'bytes' ? 'moved_bytes' : name === 'moved' ? 'moved_shards' : name}_total`
    lines.push(`# TYPE ${metric} counter`, `${metric} ${r.totals[name] + (p?.[name] ?? 0)}`)
  }
  if (r.lastPass)
    lines.push(
      '# TYPE coffer_rebalance_last_run_seconds gauge',
      `coffer_rebalance_last_run_seconds ${r.lastPass.endedAt / 1000}`,
    )
  return lines
}

/** Prometheus text exposition of the durability counters and store states. */
function prometheusText(h: Health, l: LifecycleStatus, r: RebalanceStatus, t: Totals): string {
  const lines = [
    '# TYPE coffer_store_up gauge',
    ...h.stores.map((s) => `coffer_store_up{store="${s.id}"} ${s.up ? 1 : 0}`),
    '# TYPE coffer_store_free_bytes gauge',
    ...h.stores.flatMap((s) => (s.free === undefined ? [] : [`coffer_store_free_bytes{store="${s.id}"} ${s.free}`])),
    '# TYPE coffer_store_full gauge',
    ...h.stores.flatMap((s) => (s.full === undefined ? [] : [`coffer_store_full{store="${s.id}"} ${s.full ? 1 : 0}`])),
    ...(h.metadata
      ? [
          '# TYPE coffer_metadata_free_bytes gauge',
          `coffer_metadata_free_bytes ${h.metadata.free}`,
          '# TYPE coffer_metadata_full gauge',
          `coffer_metadata_full ${h.metadata.full ? 1 : 0}`,
        ]
      : []),
    '# TYPE coffer_heal_backlog gauge',
    `coffer_heal_backlog ${h.healBacklog}`,
  ]
  for (const [name, value] of Object.entries(h.stats)) {
    const metric = `coffer_${name.replace(/[A-Z]/g, (ch) => `_${ch.toLowerCase()}`)}_total`
    lines.push(`# TYPE ${metric} counter`, `${metric} ${value}`)
  }
  lines.push(...lifecycleLines(l), ...requestLines(t))
  if (r.enabled) lines.push(...rebalanceLines(r))
  return `${lines.join('\n')}\n`
}

type S3Handler = ReturnType<typeof createS3Handler>

export function createApp(deps: AppDeps): Hono {
  const app = new Hono()
  const requestMetrics = deps.requestMetrics ?? new RequestMetrics()
  const s3 = counted(createS3Handler({ ...deps, logger: deps.logger ?? consoleLogger }), requestMetrics)
  // Bucket names cannot contain '_', so this prefix never shadows a bucket.
  // 200 while writes can reach their quorum and find room; the body says which stores are down
  // or full and what is waiting to be healed.
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
      region: deps.region,
    }),
  )
  // The web console: its bucket and object work goes through the S3 handler, signed as the user.
  const webConsole = createConsoleRoutes({
    service: deps.service,
    platform: deps.platform,
    region: deps.region,
    s3,
    logger: deps.logger ?? consoleLogger,
    requestMetrics,
  })
  app.all('/_coffer/console', (c) => webConsole.fetch(c.req.raw, c.env as AdapterEnv | undefined))
  app.all('/_coffer/console/*', (c) => webConsole.fetch(c.req.raw, c.env as AdapterEnv | undefined))
  app.get('/_coffer/metrics', async (c) =>
    c.text(
      prometheusText(
        await health(deps.service),
        await lifecycleStatus(deps.service),
        await rebalanceStatus(deps.service),
        requestMetrics.totals(),
      ),
      200,
      {
        'content-type': 'text/plain; version=0.0.4',
      },
    ),
  )
  // Hono dispatches HEAD as GET and drops the body; the handler reads the raw method, so
  // HeadObject stays a metadata-only operation.
  app.all('*', (c) => {
    const env = c.env as AdapterEnv | undefined
    return s3(c.req.raw, env?.rawTarget, env?.connection)
  })
  return app
}
