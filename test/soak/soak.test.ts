/**
 * The short soak in `npm test`: `npm run soak` (bench/soak.ts) for about a minute and a half of
 * operations and faults against a gateway over six storage-node processes, then its checks. It
 * must pass: every acknowledged object reads back, nothing crosses buckets or namespaces, no 500,
 * no leaked shard. The seed is printed (COFFER_TEST_SEED replays it).
 *
 * Every operation and fault class is on, the leaked-shard check too. (It was off while the leak
 * the 30-minute soak found — seed 1170924923, one write id whose shard files no row named — was
 * not understood: a heal rebuilding a shard of a write that was deleted and collected meanwhile,
 * pinned by src/service/heal-gc-race.test.ts.)
 */
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { REPO_ROOT } from '../helpers/server.ts'

const SEED = Number(process.env.COFFER_TEST_SEED ?? Date.now() % 1_000_000)
const MINUTES = 1.5
/** Operations and faults run MINUTES; start-up and the final checks (grace periods included) take ~1.5 min more. */
const RUN_LIMIT_MS = 8 * 60_000

/** Classes left out (COFFER_SOAK_WITHOUT=swap,leaks narrows a failure down by hand); by default none. */
const WITHOUT = (process.env.COFFER_SOAK_WITHOUT ?? '').split(',').filter(Boolean)

function runSoak(args: string[]): Promise<{ code: number | string; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'bench/soak.ts'), ...args], {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let out = ''
    child.stdout.setEncoding('utf8').on('data', (s: string) => (out += s))
    child.stderr.setEncoding('utf8').on('data', (s: string) => (out += s))
    // SIGTERM lets the soak stop its own children; SIGKILL if it does not within 20 s.
    const timer = setTimeout(() => {
      child.kill('SIGTERM')
      setTimeout(() => child.kill('SIGKILL'), 20_000).unref()
    }, RUN_LIMIT_MS)
    child.once('error', reject)
    child.once('exit', (code, signal) => {
      clearTimeout(timer)
      resolve({ code: code ?? signal ?? -1, out })
    })
  })
}

/** The count after `label:` at the start of a report line. */
const count = (out: string, label: string): number => {
  const m = new RegExp(`^${label}: (\\d+)`, 'm').exec(out)
  return m ? Number(m[1]) : -1
}

describe('soak (bench/soak.ts)', () => {
  it(
    `${MINUTES} min of mixed operations under kill -9 and drive damage: no failure (seed ${SEED})`,
    async () => {
      const args = ['--minutes', String(MINUTES), '--seed', String(SEED)]
      if (WITHOUT.length) args.push('--without', WITHOUT.join(','))
      const { code, out } = await runSoak(args)
      const report = out.slice(out.indexOf('replay with:') - 40)
      expect(out, 'the seed is printed at the start').toContain(`soak: seed ${SEED}\n`)
      expect(count(out, 'operations'), report).toBeGreaterThan(100)
      // Writes were acknowledged while faults ran, so the final checks had something to check.
      expect(Number(/^ {2}put +\d+ +(\d+) \//m.exec(out)?.[1] ?? -1), report).toBeGreaterThan(5)
      expect(count(out, 'faults injected'), report).toBeGreaterThan(3)
      expect(count(out, 'checks made'), report).toBeGreaterThan(100)
      expect(count(out, '500 answers'), report).toBe(0)
      expect(count(out, 'failures'), report).toBe(0)
      expect(out, report).toContain(`soak: seed ${SEED} — PASS`)
      expect(code, report).toBe(0)
    },
    RUN_LIMIT_MS + 60_000,
  )
})
