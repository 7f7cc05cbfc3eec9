/**
 * What the authorization step costs (`--only access`; issue 12's "< 5 % on 4 KiB GET ×16"): 16
 * clients GET 4 KiB objects for a fixed time, alternately as the root user from a bucket without
 * a policy (the owner path: one evaluation that allows at once) and as a user with a built-in and
 * an own policy from a bucket with a bucket policy (statements with conditions are evaluated on
 * every request). Same server, same run, rounds interleaved so drift hits both; the ratio is the
 * sum of ops over the sum of time of each side.
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import {
  CreateBucketCommand,
  GetObjectCommand,
  PutBucketPolicyCommand,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3'
import { adminJson, adminRun, type Credentials } from '../test/helpers/admin.ts'
import { bodyBytes, s3Client } from '../test/helpers/s3-client.ts'
import { startServer } from '../test/helpers/server.ts'
import { onCleanup } from './lib/cleanup.ts'
import type { Metric, SuiteResult } from './lib/report.ts'
import type { SuiteContext } from './lib/suite.ts'

const CLIENTS = 16
const OBJECT_BYTES = 4096
const KEYS = 64

async function drive(
  client: S3Client,
  Bucket: string,
  ms: number,
): Promise<{ ops: number; ms: number; errors: number }> {
  const end = performance.now() + ms
  const t0 = performance.now()
  let ops = 0
  let errors = 0
  await Promise.all(
    Array.from({ length: CLIENTS }, async (_, i) => {
      for (let n = i; performance.now() < end; n += CLIENTS) {
        try {
          const r = await client.send(new GetObjectCommand({ Bucket, Key: `k/${n % KEYS}` }))
          await bodyBytes(r.Body)
          ops++
        } catch {
          errors++
        }
      }
    }),
  )
  return { ops, ms: performance.now() - t0, errors }
}

export async function runAccess(ctx: SuiteContext): Promise<SuiteResult> {
  const t0 = performance.now()
  const rounds = ctx.quick ? 4 : 10
  const roundMs = ctx.quick ? 3_000 : 6_000
  ctx.progress.status('access: starting a server')
  const server = await startServer({ env: { COFFER_HEAL_INTERVAL_MS: '3600000', COFFER_SCRUB_INTERVAL_MS: '3600000' } })
  const stop = onCleanup('bench access server', () => server.stop(), { pid: server.pid })
  try {
    const root = s3Client(server)
    const open = 'access-bench-owner'
    const guarded = 'access-bench-policies'
    const body = Buffer.alloc(OBJECT_BYTES, 7)
    for (const Bucket of [open, guarded]) {
      await root.send(new CreateBucketCommand({ Bucket }))
      for (let k = 0; k < KEYS; k++) await root.send(new PutObjectCommand({ Bucket, Key: `k/${k}`, Body: body }))
    }
    const u = await adminJson<Credentials>(server, [
      'user',
      'create',
      'bench-reader',
      '--namespace',
      'default',
      '--policy',
      'readonly',
    ])
    const own = join(server.dataDir, 'bench-policy.json')
    writeFileSync(
      own,
      JSON.stringify({
        Version: '2012-10-17',
        Statement: [
          { Effect: 'Allow', Action: ['s3:GetObject'], Resource: `arn:aws:s3:::${guarded}/k/*` },
          { Effect: 'Deny', Action: 's3:*', Resource: '*', Condition: { Bool: { 'aws:SecureTransport': 'false' } } },
        ],
      }),
    )
    await adminRun(server, ['user', 'policy', 'set', u.accessKeyId, own])
    await root.send(
      new PutBucketPolicyCommand({
        Bucket: guarded,
        Policy: JSON.stringify({
          Version: '2012-10-17',
          Statement: [
            {
              Effect: 'Deny',
              Principal: '*',
              Action: 's3:GetObject',
              Resource: `arn:aws:s3:::${guarded}/secret/*`,
            },
            {
              Effect: 'Allow',
              Principal: { AWS: 'arn:aws:iam::default:user/bench-reader' },
              Action: 's3:GetObject',
              Resource: `arn:aws:s3:::${guarded}/*`,
              Condition: { IpAddress: { 'aws:SourceIp': '127.0.0.0/8' } },
            },
          ],
        }),
      }),
    )
    const user = s3Client(server, u)
    // Warm both paths (connections, caches) before measuring.
    await drive(root, open, 1_000)
    await drive(user, guarded, 1_000)
    const sides = {
      owner: { ops: 0, ms: 0, errors: 0 },
      policies: { ops: 0, ms: 0, errors: 0 },
    }
    for (let r = 0; r < rounds; r++) {
      ctx.progress.status(`access: round ${r + 1}/${rounds}`)
      // Alternate which side goes first so neither always gets the warmer machine.
      const order = r % 2 === 0 ? (['owner', 'policies'] as const) : (['policies', 'owner'] as const)
      for (const side of order) {
        const p = side === 'owner' ? await drive(root, open, roundMs) : await drive(user, guarded, roundMs)
        sides[side].ops += p.ops
        sides[side].ms += p.ms
        sides[side].errors += p.errors
      }
    }
    root.destroy()
    user.destroy()
    const rate = (s: { ops: number; ms: number }) => s.ops / (s.ms / 1000)
    const ownerRate = rate(sides.owner)
    const policyRate = rate(sides.policies)
    const cost = (1 - policyRate / ownerRate) * 100
    const metrics: Metric[] = [
      {
        suite: 'access',
        case: 'GET 4KiB c16',
        target: 'owner (root, no bucket policy)',
        value: Number(ownerRate.toFixed(1)),
        unit: 'ops/s',
        extra: { errors: sides.owner.errors },
      },
      {
        suite: 'access',
        case: 'GET 4KiB c16',
        target: 'user + bucket policies',
        value: Number(policyRate.toFixed(1)),
        unit: 'ops/s',
        extra: { errors: sides.policies.errors },
      },
    ]
    return {
      name: 'access',
      ms: performance.now() - t0,
      tables: [
        {
          title: `4 KiB GET ×${CLIENTS}: owner path beside access control in effect (${rounds} interleaved rounds of ${roundMs / 1000} s each)`,
          columns: ['path', 'ops/s', 'errors'],
          rows: [
            ['owner (root, bucket without policy)', ownerRate.toFixed(1), String(sides.owner.errors)],
            ['user policies + bucket policy', policyRate.toFixed(1), String(sides.policies.errors)],
            ['ratio policies/owner', (policyRate / ownerRate).toFixed(3), ''],
          ],
          notes: [`Authorization cost: ${cost.toFixed(1)} % of owner-path throughput (target < 5 %).`],
        },
      ],
      metrics,
      notes: [],
    }
  } finally {
    await stop().catch(() => {})
  }
}
