/**
 * Replay protection that survives a node restart. The nonce cache (auth.ts) lives in memory, so
 * after a restart a request captured before it would pass again while its date is still inside
 * the clock window. The node therefore persists a high-water mark: no request is let through
 * before the persisted mark is at least its date, and after a restart every request dated at or
 * below the mark — everything that may have been accepted before — is refused.
 *
 * The mark is written ahead by RESERVE_MS, so under steady traffic it is saved about once per
 * RESERVE_MS, not per request. Price: right after a restart, requests dated at or below the mark
 * are refused (401) until the signer's clock passes it — under a second for gateways in step with
 * the fastest one, longer for a gateway whose clock runs behind another by more than that.
 * Uses no platform code: persistence is the `MarkFile` port (the runtime's file, a map in tests).
 */

/** How far ahead of the newest accepted date the mark is saved (so saves are rare). */
export const RESERVE_MS = 1_000

/** Where the mark lives: the runtime keeps it in a small file beside the node's drive. */
export interface MarkFile {
  /** The saved mark (ms since the epoch), undefined when none was ever saved. */
  load(): Promise<number | undefined>
  /** Saves `mark` durably (it must survive a crash or power loss once this resolves). */
  save(mark: number): Promise<void>
}

export class ReplayMark {
  /** Requests dated at or before this were (or may have been) accepted before this start. */
  readonly floor: number
  private saved: number
  private saving: Promise<void> | undefined

  private constructor(
    private readonly file: MarkFile,
    floor: number,
    private readonly reserveMs: number,
  ) {
    this.floor = floor
    this.saved = floor
  }

  /** Loads the mark left by the previous run; `-Infinity` (nothing to refuse) on a first start. */
  static async open(file: MarkFile, reserveMs = RESERVE_MS): Promise<ReplayMark> {
    return new ReplayMark(file, (await file.load()) ?? Number.NEGATIVE_INFINITY, reserveMs)
  }

  /**
   * Resolves once the persisted mark covers `date`, saving a new one when it does not; a request
   * is answered only after this. Concurrent callers share one save.
   */
  async cover(date: number): Promise<void> {
    while (date > this.saved) {
      if (!this.saving) {
        const mark = date + this.reserveMs
        this.saving = this.file.save(mark).then(
          () => {
            this.saved = Math.max(this.saved, mark)
            this.saving = undefined
          },
          (e: unknown) => {
            this.saving = undefined
            throw e
          },
        )
      }
      await this.saving
    }
  }
}
