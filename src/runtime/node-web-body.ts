/**
 * Node only: a Node `Readable` (a request or response `IncomingMessage`) as a Web
 * `ReadableStream<Uint8Array>` of Node's own chunks — the one bridge used for request bodies on
 * the gateway (node.ts) and on a storage node (node-shard-routes.ts), and for node responses on
 * the gateway (cluster-fetch.ts).
 *
 * Why not `Readable.toWeb`: Node 20's copies every chunk into a fresh `Uint8Array` ("to detach it
 * from the pool"), one more copy of every byte and one more ArrayBuffer per 16 KiB TLS record, and
 * fresh ArrayBuffers are what drives V8's full GCs here ("external memory pressure",
 * docs/architecture.md §8). The copy guards against pooled Buffers; an HTTP body chunk is never
 * one: Node's parser hands each body piece over as a new Buffer of its own (`Buffer::Copy` in
 * node_http_parser.cc) and never touches it again, so giving it on as it is is safe. A chunk may
 * still be a view into a larger ArrayBuffer: consumers honour `byteOffset`, as with any Uint8Array.
 *
 * What the bridge guarantees:
 *  - nothing is read before the first pull (so `Expect: 100-continue` is answered only when the
 *    consumer starts reading, as with `toWeb`), and the source is paused while `queueBytes` or more
 *    wait unread — backpressure counted in bytes;
 *  - a body that stops before its end (connection cut, client gone, source destroyed, or its bytes
 *    taken by another reader) *errors* the stream, never closes it: a cut upload must not become a
 *    short object. A body Node's parser saw whole (`complete`) whose connection closed before the
 *    rest was read still ends cleanly with every byte;
 *  - cancel either pauses the source and leaves it to its owner (`onCancel: 'pause'`: a server
 *    drains or drops the rest of a request body itself) or destroys it (`'destroy'`: a client
 *    response, whose connection must not go back to the pool half read).
 */
import type { Readable } from 'node:stream'
import { finished } from 'node:stream'

export interface NodeWebBodyOptions {
  /** Bytes queued unread before the source is paused. */
  queueBytes: number
  /** What cancel does to the source (see above). */
  onCancel: 'pause' | 'destroy'
  /** Hears why the body failed, before the stream errors with it. */
  onError?: (e: unknown) => void
}

/** An IncomingMessage's `complete`: its parser saw the whole body. Absent on other Readables. */
const sawWhole = (src: Readable): boolean => (src as Readable & { complete?: boolean }).complete === true

export function nodeWebBody(src: Readable, o: NodeWebBodyOptions): ReadableStream<Uint8Array> {
  let settled = false
  let stopWatching = () => {}
  let onData = (_chunk: Buffer) => {}
  const stop = () => {
    settled = true
    src.off('data', onData)
    stopWatching()
  }
  return new ReadableStream<Uint8Array>(
    {
      start(controller) {
        const fail = (e: unknown) => {
          o.onError?.(e)
          controller.error(e)
        }
        onData = (chunk) => {
          controller.enqueue(chunk)
          if ((controller.desiredSize ?? 0) <= 0) src.pause()
        }
        // Paused before the listener: adding 'data' would set the source flowing; the first pull starts it.
        src.pause()
        src.on('data', onData)
        stopWatching = finished(src, (err) => {
          if (settled) return
          // Its bytes went to another reader (e.g. the server draining a refused body): what this
          // stream holds is not the body, whatever the end looks like.
          const robbed = !src.listeners('data').includes(onData)
          stop()
          if (robbed) return fail(new Error('body read by another reader'))
          if (!err) return controller.close()
          if (sawWhole(src)) {
            // Closed after the parser had the whole body: what is still buffered is its rest.
            for (let c = src.read() as Buffer | null; c !== null; c = src.read() as Buffer | null) controller.enqueue(c)
            return controller.close()
          }
          fail(err)
        })
      },
      pull() {
        if (!settled) src.resume()
      },
      cancel(reason) {
        stop()
        if (o.onCancel === 'destroy') src.destroy(reason instanceof Error ? reason : undefined)
        else src.pause()
      },
    },
    { highWaterMark: o.queueBytes, size: (chunk) => chunk.byteLength },
  )
}
