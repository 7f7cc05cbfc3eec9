/**
 * What run.ts hands each suite (bench/codec.ts, crypto.ts, s3.ts) and what they hand back.
 */
import type { PeerName } from './args.ts'
import type { Progress } from './progress.ts'
import type { SuiteResult } from './report.ts'

export interface SuiteContext {
  quick: boolean
  /** `--minutes`: how long the gc suite overwrites; undefined = its default. */
  minutes?: number
  progress: Progress
  repoRoot: string
  /** `--peer`: other stores the s3 suite measures beside Coffer in the same run. */
  peers: PeerName[]
  /** The Ceph peer's start/stop script (`--ceph-script`). */
  cephScript: string
}

export type Suite = (ctx: SuiteContext) => Promise<SuiteResult>
