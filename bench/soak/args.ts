/**
 * Command line of `npm run soak`: duration, seed, which operation and fault classes run, the size
 * of the cluster. Every class can be switched off on its own (`--without rotate,swap`), so a run can
 * leave out a class tied to a known defect while the rest keeps guarding.
 */
import { parseFlags, type CommandSpec } from '../../src/runtime/args.ts'
import { commandHelp } from '../../src/runtime/help.ts'

/** Operation classes the workers draw from (README, Reliability). */
export const OP_CLASSES = [
  'put',
  'get',
  'overwrite',
  'multipart',
  'delete',
  'delete-many',
  'copy',
  'list',
  'rotate',
  'rotate-master',
  'bucket-cycle',
  'isolation',
] as const
export type OpClass = (typeof OP_CLASSES)[number]

/** Fault classes the scheduler injects; `slow` makes workers' uploads drip or stall. */
export const FAULT_CLASSES = [
  'kill-gateway',
  'kill-node',
  'truncate',
  'flip',
  'swap',
  'delete-shard',
  'stripe-damage',
  'slow',
] as const
export type FaultClass = (typeof FAULT_CLASSES)[number]

/** Final checks that can be left out on their own: `leaks` (shard files no row names). */
export const CHECK_CLASSES = ['leaks'] as const
export type CheckClass = (typeof CHECK_CLASSES)[number]

export const SOAK_COMMAND = {
  name: 'npm run soak --',
  summary:
    'mixed S3 operations against a gateway over storage nodes while seeded faults are injected; checks that every acknowledged write reads back',
  flags: {
    minutes: {
      type: 'string',
      value: 'N',
      default: '5',
      help: 'how long operations and faults run (fractions allowed)',
    },
    // Text, not 'int': the shared parser's whole numbers stop at 9 digits and seeds go to 2^32 - 1.
    seed: {
      type: 'string',
      value: 'S',
      shownDefault: 'random, printed',
      help: 'replays the schedule of an earlier run',
    },
    ops: { type: 'list', value: 'LIST', shownDefault: 'all', help: `operation classes: ${OP_CLASSES.join(', ')}` },
    faults: {
      type: 'list',
      value: 'LIST',
      shownDefault: 'all',
      help: `fault classes: ${FAULT_CLASSES.join(', ')}; \`none\` for none`,
    },
    without: {
      type: 'list',
      value: 'LIST',
      help: `operation or fault classes to leave out, or the check ${CHECK_CLASSES.join(', ')}`,
    },
    weights: {
      type: 'list',
      value: 'OP=W,…',
      help: 'relative weights of operation classes instead of the defaults (e.g. rotate-master=3 to hunt a key-rotation race)',
    },
    workers: { type: 'int', value: 'N', default: 4, help: 'concurrent S3 clients (each owns its buckets and keys)' },
    nodes: { type: 'int', value: 'N', default: 6, help: 'storage-node processes (the gateway codes 4+2 over them)' },
    'fault-every': {
      type: 'int',
      value: 'SECONDS',
      default: 4,
      help: 'mean seconds between faults (each drawn from 0.5..1.5 × this)',
    },
    'max-size': { type: 'int', value: 'KIB', default: 3072, help: 'largest single PUT, in KiB' },
    keep: { type: 'boolean', help: 'keep the data directories (printed) instead of removing them' },
    verbose: { type: 'boolean', help: 'print every fault and every failure as it happens' },
  },
} as const satisfies CommandSpec

export interface SoakArgs {
  minutes: number
  seed?: number
  ops: OpClass[]
  /** Weights given on the command line, over the defaults (worker.ts). */
  weights: Partial<Record<OpClass, number>>
  faults: FaultClass[]
  /** Final checks left out. */
  skipChecks: CheckClass[]
  workers: number
  nodes: number
  faultEveryS: number
  maxSize: number
  keep: boolean
  verbose: boolean
  help: boolean
  problems: string[]
}

export function parseSoakArgs(argv: string[]): SoakArgs {
  // No environment: everything that shapes a run is on its command line, so the line replays it.
  const { values: v, help, problems } = parseFlags(SOAK_COMMAND, argv, {})
  const minutes = Number(v.minutes)
  if (!Number.isFinite(minutes) || minutes <= 0 || minutes > 24 * 60)
    problems.push(`--minutes takes a number of minutes in (0, 1440], got "${v.minutes}"`)
  const without = new Set(v.without)
  for (const w of without)
    if (![...OP_CLASSES, ...FAULT_CLASSES, ...CHECK_CLASSES].includes(w as never))
      problems.push(`--without: unknown class "${w}"`)
  const pickList = <T extends string>(given: string[], known: readonly T[], flag: string): T[] => {
    if (given.length === 1 && given[0] === 'none') return []
    for (const g of given) if (!(known as readonly string[]).includes(g)) problems.push(`${flag}: unknown class "${g}"`)
    const chosen = given.length ? (given.filter((g) => (known as readonly string[]).includes(g)) as T[]) : [...known]
    return chosen.filter((c) => !without.has(c))
  }
  const ops = pickList(v.ops, OP_CLASSES, '--ops')
  const faults = pickList(v.faults, FAULT_CLASSES, '--faults')
  const weights: Partial<Record<OpClass, number>> = {}
  for (const w of v.weights) {
    const [op, value] = w.split('=')
    const n = Number(value)
    if (!(OP_CLASSES as readonly string[]).includes(op ?? '') || !(n >= 0 && n <= 1000))
      problems.push(`--weights: expected OP=W with a known operation class and 0 <= W <= 1000, got "${w}"`)
    else weights[op as OpClass] = n
  }
  if (!ops.includes('put')) problems.push('the put class cannot be left out: every other operation needs objects')
  if (v.workers < 1 || v.workers > 32) problems.push(`--workers must be 1..32, got ${v.workers}`)
  if (v.nodes < 6 || v.nodes > 12) problems.push(`--nodes must be 6..12 (4+2 needs six), got ${v.nodes}`)
  if (v['fault-every'] < 1) problems.push(`--fault-every must be at least 1 s, got ${v['fault-every']}`)
  const seed = v.seed === undefined ? undefined : /^\d{1,10}$/.test(v.seed.trim()) ? Number(v.seed) : Number.NaN
  if (seed !== undefined && !(seed < 2 ** 32)) problems.push(`--seed takes a whole number below 2^32, got "${v.seed}"`)
  if (v['max-size'] < 1 || v['max-size'] > 64 * 1024) problems.push(`--max-size must be 1..65536 KiB`)
  return {
    minutes,
    seed,
    ops,
    weights,
    faults,
    skipChecks: CHECK_CLASSES.filter((c) => without.has(c)),
    workers: v.workers,
    nodes: v.nodes,
    faultEveryS: v['fault-every'],
    maxSize: v['max-size'] * 1024,
    keep: v.keep,
    verbose: v.verbose,
    help,
    problems,
  }
}

export const USAGE = commandHelp(SOAK_COMMAND)
