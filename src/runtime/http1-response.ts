/**
 * A minimal HTTP/1.1 response parser for the gateway's shard reads (shard-read.ts): status line,
 * headers, then a body framed by `content-length`, `transfer-encoding: chunked` or the end of the
 * connection. Fed the bytes as they arrive, split anywhere; body bytes are handed on as views of
 * the fed buffer (the caller copies them before feeding more: its buffer is reused). No I/O.
 *
 * It exists so a node's answer is read without node:http, whose parser copies every body piece into
 * a fresh Buffer (docs/architecture.md §8, "the ceiling of the six-node shape").
 */

/** The answer is not HTTP/1.x as this parser reads it (bad status line, bad framing, too long a head). */
export class HttpParseError extends Error {
  override name = 'HttpParseError'
}

export type BodyFraming = { kind: 'length'; length: number } | { kind: 'chunked' } | { kind: 'close' }

export interface ResponseHead {
  status: number
  /** Header lines as received: [name, value], names in their own case. */
  headers: [string, string][]
  framing: BodyFraming
  /** The connection may carry another request after this answer. */
  keepAlive: boolean
}

export interface ResponseSink {
  head(head: ResponseHead): void
  /** Body bytes: a view of the fed buffer, valid only until this call returns. */
  body(piece: Uint8Array): void
  end(): void
}

/** Longest status line plus headers accepted (node:http's default limit is 16 KiB too). */
export const MAX_HEAD_BYTES = 16 * 1024
/** Longest chunk-size line (size, extensions) of a chunked body. */
const MAX_CHUNK_LINE = 1024

const CR = 13
const LF = 10
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/
const STATUS_LINE = /^HTTP\/1\.([01]) ([1-9]\d\d)(?: [^\r\n]*)?$/

type State = 'head' | 'length' | 'chunk-size' | 'chunk-data' | 'chunk-end' | 'trailer' | 'close' | 'done'

export class ResponseParser {
  private state: State = 'head'
  /** The head (or a chunk-size or trailer line) gathered so far, when it spans feeds. */
  private line = new Uint8Array(256)
  private lineLength = 0
  /** Body bytes still to come of a length-framed body or of the current chunk. */
  private left = 0
  /** Bytes fed after the answer ended (a keep-alive connection must have none). */
  trailing = 0

  constructor(private readonly sink: ResponseSink) {}

  get done(): boolean {
    return this.state === 'done'
  }

  /** Whether any byte of the answer has been fed. */
  get started(): boolean {
    return this.state !== 'head' || this.lineLength > 0
  }

  /** Feeds the next bytes of the connection; throws HttpParseError. */
  push(buf: Uint8Array): void {
    let i = 0
    while (i < buf.length) {
      switch (this.state) {
        case 'head': {
          i = this.gather(buf, i, MAX_HEAD_BYTES, true)
          if (this.complete) this.readHead()
          break
        }
        case 'length': {
          const n = Math.min(this.left, buf.length - i)
          this.sink.body(buf.subarray(i, i + n))
          i += n
          this.left -= n
          if (this.left === 0) this.finish()
          break
        }
        case 'chunk-size': {
          i = this.gather(buf, i, MAX_CHUNK_LINE, false)
          if (this.complete) this.readChunkSize()
          break
        }
        case 'chunk-data': {
          const n = Math.min(this.left, buf.length - i)
          this.sink.body(buf.subarray(i, i + n))
          i += n
          this.left -= n
          if (this.left === 0) this.state = 'chunk-end'
          break
        }
        case 'chunk-end': {
          i = this.gather(buf, i, 2, false)
          if (this.complete) {
            if (this.lineLength !== 2 || this.line[0] !== CR) throw new HttpParseError('chunk not followed by CRLF')
            this.lineLength = 0
            this.state = 'chunk-size'
          }
          break
        }
        case 'trailer': {
          i = this.gather(buf, i, MAX_HEAD_BYTES, false)
          if (this.complete) {
            const empty = this.lineLength === 2
            this.lineLength = 0
            if (empty) this.finish()
          }
          break
        }
        case 'close': {
          this.sink.body(buf.subarray(i))
          i = buf.length
          break
        }
        case 'done': {
          this.trailing += buf.length - i
          i = buf.length
          break
        }
      }
    }
  }

  /** The connection ended: the end of a close-framed body; anything else unfinished is a cut answer. */
  close(): void {
    if (this.state === 'close') this.finish()
    else if (this.state !== 'done') throw new HttpParseError('connection closed before the answer ended')
  }

  /** Set by gather(): the line (or head) in `line` is whole. */
  private complete = false

  /**
   * Copies bytes into `line` up to and including the terminator — CRLF CRLF for the head, LF for a
   * line — and returns where it stopped. Throws when more than `max` bytes come without one.
   */
  private gather(buf: Uint8Array, from: number, max: number, head: boolean): number {
    this.complete = false
    let i = from
    while (i < buf.length) {
      const b = buf[i++]!
      if (this.lineLength === max) throw new HttpParseError(head ? 'response head too long' : 'line too long')
      if (this.lineLength === this.line.length) {
        const bigger = new Uint8Array(Math.min(max, this.line.length * 2))
        bigger.set(this.line)
        this.line = bigger
      }
      this.line[this.lineLength++] = b
      if (b !== LF) continue
      const n = this.lineLength
      if (!head || (n >= 4 && this.line[n - 2] === CR && this.line[n - 3] === LF && this.line[n - 4] === CR)) {
        this.complete = true
        return i
      }
    }
    return i
  }

  private text(): string {
    let s = ''
    for (let i = 0; i < this.lineLength; i++) s += String.fromCharCode(this.line[i]!)
    return s
  }

  private readHead(): void {
    const lines = this.text().split('\r\n')
    this.lineLength = 0
    lines.length -= 2 // the empty line and what follows the final CRLF
    const m = STATUS_LINE.exec(lines[0]!)
    if (!m) throw new HttpParseError(`bad status line ${JSON.stringify(lines[0]!.slice(0, 80))}`)
    const status = Number(m[2])
    const headers: [string, string][] = []
    let length: number | undefined
    let chunked = false
    let close = m[1] === '0'
    for (const l of lines.slice(1)) {
      const colon = l.indexOf(':')
      const name = colon > 0 ? l.slice(0, colon) : ''
      if (!TOKEN.test(name)) throw new HttpParseError(`bad header line ${JSON.stringify(l.slice(0, 80))}`)
      const value = l.slice(colon + 1).trim()
      headers.push([name, value])
      const lower = name.toLowerCase()
      if (lower === 'content-length') {
        if (!/^\d{1,15}$/.test(value) || (length !== undefined && length !== Number(value)))
          throw new HttpParseError(`bad content-length ${JSON.stringify(value.slice(0, 40))}`)
        length = Number(value)
      } else if (lower === 'transfer-encoding') {
        const codings = value
          .toLowerCase()
          .split(',')
          .map((c) => c.trim())
        if (codings.at(-1) !== 'chunked') throw new HttpParseError(`unsupported transfer-encoding ${value}`)
        chunked = true
      } else if (lower === 'connection') {
        const tokens = value
          .toLowerCase()
          .split(',')
          .map((c) => c.trim())
        if (tokens.includes('close')) close = true
        else if (tokens.includes('keep-alive')) close = false
      }
    }
    // An interim answer (100 Continue): the real one follows.
    if (status < 200) return
    let framing: BodyFraming
    if (status === 204 || status === 304) framing = { kind: 'length', length: 0 }
    else if (chunked) framing = { kind: 'chunked' }
    else if (length !== undefined) framing = { kind: 'length', length }
    else framing = { kind: 'close' }
    // Both framings at once is a smuggling shape: answer it, but never reuse the connection.
    if (chunked && length !== undefined) close = true
    this.sink.head({ status, headers, framing, keepAlive: !close && framing.kind !== 'close' })
    if (framing.kind === 'length') {
      this.left = framing.length
      if (this.left === 0) this.finish()
      else this.state = 'length'
    } else this.state = framing.kind === 'chunked' ? 'chunk-size' : 'close'
  }

  private readChunkSize(): void {
    const line = this.text()
    this.lineLength = 0
    const m = /^([0-9A-Fa-f]{1,12})(?:;[^\r\n]*)?\r?\n$/.exec(line)
    if (!m) throw new HttpParseError(`bad chunk size line ${JSON.stringify(line.slice(0, 40))}`)
    this.left = Number.parseInt(m[1]!, 16)
    this.state = this.left === 0 ? 'trailer' : 'chunk-data'
  }

  private finish(): void {
    this.state = 'done'
    this.sink.end()
  }
}
