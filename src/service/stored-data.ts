/**
 * How an object's bytes map onto storage writes: an ordered list of segments, one per PutObject
 * or one per multipart part, each with its own storage layout. Ranges cross segments here.
 */
import type { DataLayout, ObjectStorage } from '../storage/object-storage.ts'

/** FORMAT: stored as the object row's `layout` JSON. */
export interface StoredData {
  v: 1
  segments: Segment[]
}

export interface Segment {
  size: number
  layout: DataLayout
}

export const singleSegment = (size: number, layout: DataLayout): StoredData => ({ v: 1, segments: [{ size, layout }] })

export function layoutsOf(data: StoredData | undefined | null): DataLayout[] {
  return data?.segments.map((s) => s.layout) ?? []
}

/** Streams bytes [start, end) of the object, opening each segment only when it is reached. */
export function readStoredRange(storage: ObjectStorage, data: StoredData, start: number, end: number): ReadableStream<Uint8Array> {
  const pieces: { layout: DataLayout; from: number; to: number }[] = []
  let offset = 0
  for (const seg of data.segments) {
    const segStart = offset
    const segEnd = offset + seg.size
    offset = segEnd
    if (segEnd <= start || segStart >= end || seg.size === 0) continue
    pieces.push({ layout: seg.layout, from: Math.max(start, segStart) - segStart, to: Math.min(end, segEnd) - segStart })
  }
  let current: ReadableStreamDefaultReader<Uint8Array> | undefined
  let index = 0
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      for (;;) {
        if (!current) {
          const piece = pieces[index++]
          if (!piece) {
            controller.close()
            return
          }
          current = storage.read(piece.layout, piece.from, piece.to).getReader()
        }
        const { done, value } = await current.read()
        if (done) {
          current = undefined
          continue
        }
        controller.enqueue(value)
        return
      }
    },
    async cancel(reason) {
      await current?.cancel(reason)
    },
  })
}
