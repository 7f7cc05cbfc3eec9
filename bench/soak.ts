/**
 * `npm run soak -- --minutes N [--seed S]`: a randomized fault-injection soak. Starts storage-node
 * processes and a gateway over them (4+2), runs mixed S3 operations from several workers in
 * several namespaces (D@RE on some) while a seeded scheduler kills processes and damages shard
 * files, then checks the model of what was acknowledged (bench/soak/, README "Reliability").
 * Prints the seed at start and end; exits 1 on any failure, 2 on a usage error.
 */
import { S3Client } from '@aws-sdk/client-s3'
import { NodeHttpHandler } from '@smithy/node-http-handler'
import { adminCall, type AdminTarget } from '../src/runtime/admin-cli.ts'
import { cleanupAll } from './lib/cleanup.ts'
import { parseSoakArgs, USAGE } from './soak/args.ts'
import { BODY_IDLE_S, startCluster } from './soak/cluster.ts'
import { FaultScheduler } from './soak/faults.ts'
import {
  abortOpenUploads,
  checkBucketOwners,
  checkLeaks,
  healRun,
  restoreCluster,
  verifyAll,
} from './soak/final-checks.ts'
import { BucketModel, type Tenant } from './soak/model.ts'
import { randomSeed, Rng } from './soak/rng.ts'
import { Tally } from './soak/tally.ts'
import { Worker } from './soak/worker.ts'
import { tlsAgent } from '../test/helpers/s3-client.ts'

const NAMESPACES = [
  { name: 'soak-plain', encryption: false },
  { name: 'soak-dare-a', encryption: true },
  { name: 'soak-dare-b', encryption: true },
] as const
const BUCKETS_PER_WORKER = 2
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

function s3For(endpoint: string, ca: string, accessKeyId: string, secretAccessKey: string): S3Client {
  return new S3Client({
    endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId, secretAccessKey },
    // No retries: every answer, lost ones included, goes into the model as it came.
    maxAttempts: 1,
    // Quiet: the SDK warns on every failed streaming upload and, with a logger, logs every failed
    // command; the soak counts and reports those itself.
    logger: { trace: () => {}, debug: () => {}, info: () => {}, warn: () => {}, error: () => {} },
    requestHandler: new NodeHttpHandler({
      httpsAgent: tlsAgent({ caPem: ca }, 8),
      connectionTimeout: 5_000,
      requestTimeout: 60_000,
    }),
  })
}

async function admin(target: AdminTarget, method: string, path: string, body?: unknown): Promise<unknown> {
  const res = await adminCall(target, method, path, body)
  if (res.status >= 300) throw new Error(`admin ${method} ${path} → ${res.status} ${JSON.stringify(res.body)}`)
  return res.body
}

async function main(): Promise<number> {
  const args = parseSoakArgs(process.argv.slice(2))
  if (args.help) {
    console.log(USAGE)
    return 0
  }
  if (args.problems.length) {
    console.error(`npm run soak: ${args.problems.join('\n  ')}\n\n${USAGE}`)
    return 2
  }
  const seed = args.seed ?? randomSeed()
  const replay = [
    'npm run soak --',
    `--minutes ${args.minutes}`,
    `--seed ${seed}`,
    `--ops ${args.ops.join(',')}`,
    ...(Object.keys(args.weights).length
      ? [
          `--weights ${Object.entries(args.weights)
            .map(([op, w]) => `${op}=${w}`)
            .join(',')}`,
        ]
      : []),
    `--faults ${args.faults.length ? args.faults.join(',') : 'none'}`,
    `--workers ${args.workers}`,
    `--nodes ${args.nodes}`,
    `--fault-every ${args.faultEveryS}`,
    `--max-size ${args.maxSize / 1024}`,
    ...(args.skipChecks.length ? [`--without ${args.skipChecks.join(',')}`] : []),
  ].join(' ')
  console.log(`soak: seed ${seed}`)
  console.log(`soak: ${replay}`)
  const tally = new Tally()
  tally.verbose = args.verbose
  const rng = new Rng(seed)

  const cluster = await startCluster(args.nodes, args.keep)
  console.log(`soak: ${args.nodes} nodes and a gateway at ${cluster.endpoint}, data under ${cluster.root}`)
  const adminTarget: AdminTarget = {
    endpoint: cluster.endpoint,
    ca: cluster.caPem,
    region: 'us-east-1',
    accessKeyId: cluster.root_.accessKeyId,
    secretAccessKey: cluster.root_.secretAccessKey,
  }
  const tenants: Tenant[] = []
  for (const ns of NAMESPACES) {
    await admin(adminTarget, 'POST', '/namespaces', { name: ns.name, encryption: ns.encryption })
    const u = (await admin(adminTarget, 'POST', '/users', {
      name: `${ns.name}-user`,
      namespace: ns.name,
      policy: 'readwrite',
    })) as {
      accessKeyId: string
      secretAccessKey: string
    }
    tenants.push({
      namespace: ns.name,
      encryption: ns.encryption,
      ...u,
      client: s3For(cluster.endpoint, cluster.caPem, u.accessKeyId, u.secretAccessKey),
    })
  }

  const deadline = Date.now() + args.minutes * 60_000
  const allBuckets: BucketModel[] = []
  const workers: Worker[] = []
  for (let w = 0; w < args.workers; w++) {
    const wr = rng.fork(1000 + w)
    const buckets = Array.from(
      { length: BUCKETS_PER_WORKER },
      (_, j) => new BucketModel(`soak-${seed.toString(36)}-w${w}-${j}`, wr.pick(tenants)),
    )
    allBuckets.push(...buckets)
    workers.push(
      new Worker({
        index: w,
        seed,
        rng: wr,
        tally,
        tenants,
        buckets,
        ops: args.ops,
        weights: args.weights,
        slow: args.faults.includes('slow'),
        bodyIdleS: BODY_IDLE_S,
        maxSize: args.maxSize,
        admin: adminTarget,
        deadline,
        gatewayReady: async () => {
          for (let i = 0; i < 600 && !cluster.gatewayUp() && Date.now() < deadline; i++) await sleep(100)
        },
      }),
    )
  }
  const faults = new FaultScheduler({
    cluster,
    tally,
    rng: rng.fork(1),
    classes: args.faults,
    deadline,
    everyS: args.faultEveryS,
  })
  const progress = setInterval(() => {
    const ops = [...tally.ops.values()].reduce((s, r) => s + r.ok + r.rejected + r.uncertain, 0)
    const f = [...tally.faults.values()].reduce((s, n) => s + n, 0)
    console.log(`soak: ${tally.seconds()} s, ${ops} operations, ${f} faults, ${tally.failures.length} failures`)
  }, 30_000)
  try {
    await Promise.all([...workers.map((w) => w.run()), faults.run()])
    const opsEnded = Date.now()
    console.log(`soak: ${tally.seconds()} s, operations and faults stopped; checking`)
    await restoreCluster(cluster, adminTarget, tally)
    await verifyAll(tally, seed, allBuckets, workers, 'verify-degraded')
    await healRun(adminTarget, tally)
    await verifyAll(tally, seed, allBuckets, workers, 'verify-healed')
    await checkBucketOwners(tally, tenants, allBuckets)
    await abortOpenUploads(tally, allBuckets)
    const leaks = await checkLeaks(tally, cluster, adminTarget, opsEnded, !args.skipChecks.includes('leaks'))
    console.log(
      `soak: ${leaks.files} shard files on the nodes, ${leaks.live} live writes, ${leaks.leaked} leaked write ids`,
    )
  } finally {
    clearInterval(progress)
    for (const t of tenants) t.client.destroy()
    await cluster.stop()
  }
  console.log(tally.report(seed, replay))
  // A 500 is a defect: its cause is in the gateway's log, which the run does not otherwise keep.
  const errors = cluster.gatewayErrors()
  if (tally.serverErrors.length > 0 || errors.length > 0)
    console.log(`gateway error log (${errors.length} lines):\n${errors.join('\n')}`)
  if (args.keep) console.log(`soak: data kept under ${cluster.root}`)
  return tally.failures.length === 0 ? 0 : 1
}

main()
  .then(async (code) => {
    await cleanupAll()
    process.exit(code)
  })
  .catch(async (e: unknown) => {
    console.error(`soak: ${e instanceof Error ? e.stack : String(e)}`)
    await cleanupAll()
    process.exit(1)
  })
