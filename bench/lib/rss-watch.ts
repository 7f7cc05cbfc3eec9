/**
 * A server's peak RSS cut into segments: each cell, and the work between cells (start-up, fills,
 * verification), gets its own peak, so a whole run's peak can be traced to the cell that set it.
 * Linux only: the peak of a segment is VmHWM read at its end, after the high-water mark was reset
 * at its start by writing 5 to /proc/<pid>/clear_refs (the kernel's documented reset of VmHWM).
 * Elsewhere (or once the process is gone) every read is undefined and nothing is reset.
 *
 * A reset sets the mark to the RSS of that moment, and a Node process seldom gives memory back
 * (V8 keeps its heap pages, malloc its arenas): a segment's peak includes what earlier segments
 * left resident. So each segment also keeps the RSS it started from; peak − start is its own rise.
 */
import { readFileSync, writeFileSync } from 'node:fs'

export interface RssSegment {
  label: string
  /** Peak RSS during the segment. */
  bytes: number
  /** RSS when the segment began (undefined for start-up). */
  startBytes?: number
}

/** VmHWM of `pid` in bytes, or undefined where /proc has none. */
export function vmHwm(pid: number): number | undefined {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return m ? Number(m[1]) * 1024 : undefined
  } catch {
    return undefined
  }
}

/** VmRSS of `pid` in bytes, or undefined where /proc has none. */
function vmRss(pid: number): number | undefined {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return m ? Number(m[1]) * 1024 : undefined
  } catch {
    return undefined
  }
}

function resetHwm(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5')
    return true
  } catch {
    return false
  }
}

export class RssWatch {
  readonly segments: RssSegment[] = []
  /** False when the reset failed: segment peaks are then peaks since start, not per segment. */
  resets = true
  private last = 'start-up'
  private startBytes: number | undefined

  constructor(readonly pid: number) {}

  /**
   * Runs `fn` as a segment of its own. What ran since the previous segment (start-up, fills,
   * verification) is closed first as a segment "after <previous>"; returns fn's result and the
   * peak RSS during it.
   */
  async measure<T>(label: string, fn: () => Promise<T>): Promise<{ value: T; rss?: number }> {
    this.cut(this.last === 'start-up' ? 'start-up' : `between cells, after ${this.last}`)
    const value = await fn()
    const rss = this.cut(label)
    this.last = label
    return { value, rss }
  }

  /** Closes the current segment as `label`: records its peak and resets the mark for the next. */
  cut(label: string): number | undefined {
    const bytes = vmHwm(this.pid)
    if (bytes === undefined) return undefined
    this.segments.push({ label, bytes, startBytes: this.startBytes })
    if (!resetHwm(this.pid)) this.resets = false
    this.startBytes = vmRss(this.pid)
    return bytes
  }

  /** The whole run's peak so far (closing the open segment as `tail`) and the segment that set it. */
  peak(tail = `after ${this.last}`): RssSegment | undefined {
    this.cut(tail)
    let top: RssSegment | undefined
    for (const s of this.segments) if (!top || s.bytes > top.bytes) top = s
    return top
  }
}
