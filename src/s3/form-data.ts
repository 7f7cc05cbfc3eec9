/**
 * A streaming multipart/form-data reader for POST Object (browser form uploads). The fields before
 * the `file` field are read into memory, bounded; the file's content is handed on as a stream that
 * never holds more than one chunk plus a delimiter's length, so an upload of any size streams to
 * storage. Fields after the file are ignored, as S3 does. Web Streams only.
 */
import { S3Error } from './errors.ts'
import { fromUtf8, utf8 } from '../util/bytes.ts'

/** S3 refuses a form whose fields before the file exceed this (MaxPostPreDataLengthExceeded). */
export const MAX_FORM_FIELDS_BYTES = 20 * 1024
/** One part's headers (Content-Disposition, Content-Type) must fit in this. */
const MAX_PART_HEADER_BYTES = 8 * 1024

export interface FormFile {
  filename: string
  contentType?: string
  /** The file's bytes; errors with MalformedPOSTRequest if the form ends before its boundary. */
  stream: ReadableStream<Uint8Array>
}

export interface Form {
  /** Field names lower-cased (S3 matches them case-insensitively); the last value wins. */
  fields: Map<string, string>
  file?: FormFile
}

const malformed = (why: string) =>
  new S3Error('MalformedPOSTRequest', `The body of your POST request is not well-formed multipart/form-data. ${why}`)

/** The boundary of a `multipart/form-data; boundary=…` Content-Type, or undefined. */
export function formBoundary(contentType: string | null): string | undefined {
  if (contentType === null || !/^multipart\/form-data\s*;/i.test(contentType)) return undefined
  const m = /;\s*boundary=(?:"([^"]{1,70})"|([^\s;]{1,70}))/i.exec(contentType)
  return m ? (m[1] ?? m[2]) : undefined
}

function indexOf(hay: Uint8Array, needle: Uint8Array, from = 0): number {
  const first = needle[0]!
  outer: for (
    let i = hay.indexOf(first, from);
    i >= 0 && i <= hay.length - needle.length;
    i = hay.indexOf(first, i + 1)
  ) {
    for (let j = 1; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer
    return i
  }
  return -1
}

/** A buffered reader over the body: just enough look-ahead to find delimiters. */
class Bytes {
  private buf = new Uint8Array(0)
  private done = false
  constructor(private readonly reader: ReadableStreamDefaultReader<Uint8Array>) {}

  get buffered(): Uint8Array {
    return this.buf
  }
  get ended(): boolean {
    return this.done
  }

  /** Reads one more chunk into the buffer; false at the end of the body. */
  async more(): Promise<boolean> {
    if (this.done) return false
    const { done, value } = await this.reader.read()
    if (done) {
      this.done = true
      return false
    }
    const next = new Uint8Array(this.buf.length + value.length)
    next.set(this.buf)
    next.set(value, this.buf.length)
    this.buf = next
    return true
  }

  take(n: number): Uint8Array {
    const out = this.buf.subarray(0, n)
    this.buf = this.buf.subarray(n)
    return out
  }

  /** Bytes up to `needle` (consumed with it); at most `limit` bytes are looked through. */
  async until(needle: Uint8Array, limit: number, tooLong: () => S3Error): Promise<Uint8Array> {
    for (;;) {
      const at = indexOf(this.buf, needle)
      if (at >= 0) {
        if (at > limit) throw tooLong()
        const out = this.buf.slice(0, at)
        this.take(at + needle.length)
        return out
      }
      if (this.buf.length > limit + needle.length) throw tooLong()
      if (!(await this.more())) throw malformed('The form ended early.')
    }
  }

  async atLeast(n: number): Promise<void> {
    while (this.buf.length < n) if (!(await this.more())) throw malformed('The form ended early.')
  }

  cancel(reason?: unknown): Promise<void> {
    return this.reader.cancel(reason)
  }
}

interface PartHead {
  name: string
  filename?: string
  contentType?: string
}

function parsePartHead(raw: string): PartHead {
  let name: string | undefined
  let filename: string | undefined
  let contentType: string | undefined
  for (const line of raw.split('\r\n')) {
    const colon = line.indexOf(':')
    if (colon < 0) continue
    const header = line.slice(0, colon).trim().toLowerCase()
    const value = line.slice(colon + 1).trim()
    if (header === 'content-disposition') {
      name = /;\s*name="([^"]*)"/i.exec(value)?.[1] ?? /;\s*name=([^;\s]+)/i.exec(value)?.[1]
      filename = /;\s*filename="([^"]*)"/i.exec(value)?.[1] ?? /;\s*filename=([^;\s]+)/i.exec(value)?.[1]
    } else if (header === 'content-type') contentType = value
  }
  if (name === undefined) throw malformed('A part has no Content-Disposition name.')
  return { name, filename, contentType }
}

/**
 * Reads the fields up to the `file` field (bounded by MAX_FORM_FIELDS_BYTES in all), then returns
 * with the file's stream unread. Without a file field, `file` is undefined (S3: MissingFields…).
 */
export async function readForm(body: ReadableStream<Uint8Array>, boundary: string): Promise<Form> {
  const bytes = new Bytes(body.getReader())
  const dash = utf8(`--${boundary}`)
  const delimiter = utf8(`\r\n--${boundary}`)
  const crlf = utf8('\r\n')
  const headEnd = utf8('\r\n\r\n')
  const fields = new Map<string, string>()
  let fieldBytes = 0
  const tooLarge = () =>
    new S3Error('MaxPostPreDataLengthExceeded', 'Your POST request fields preceding the upload file were too large.')
  try {
    // Preamble, then the first boundary line.
    await bytes.until(dash, MAX_FORM_FIELDS_BYTES, tooLarge)
    for (;;) {
      // After a boundary: `--` ends the form, CRLF starts a part.
      await bytes.atLeast(2)
      const after = bytes.take(2)
      if (after[0] === 0x2d && after[1] === 0x2d) return { fields }
      if (after[0] !== crlf[0] || after[1] !== crlf[1]) throw malformed('A boundary is not followed by CRLF.')
      const head = parsePartHead(
        fromUtf8(await bytes.until(headEnd, MAX_PART_HEADER_BYTES, () => malformed('A part header is too long.'))),
      )
      if (head.name.toLowerCase() === 'file') {
        const file: FormFile = {
          filename: head.filename ?? '',
          contentType: head.contentType,
          stream: fileStream(bytes, delimiter),
        }
        return { fields, file }
      }
      const value = await bytes.until(delimiter, MAX_FORM_FIELDS_BYTES - fieldBytes, tooLarge)
      fieldBytes += value.length + head.name.length
      if (fieldBytes > MAX_FORM_FIELDS_BYTES) throw tooLarge()
      fields.set(head.name.toLowerCase(), fromUtf8(value))
    }
  } catch (e) {
    await bytes.cancel(e).catch(() => {})
    throw e
  }
}

/** The file part's bytes up to the delimiter; what follows it is read and dropped. */
function fileStream(bytes: Bytes, delimiter: Uint8Array): ReadableStream<Uint8Array> {
  let finished = false
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      for (;;) {
        const buf = bytes.buffered
        const at = indexOf(buf, delimiter)
        if (at >= 0) {
          if (at > 0) controller.enqueue(bytes.take(at))
          bytes.take(delimiter.length)
          finished = true
          controller.close()
          // Fields after the file are ignored (S3 does); read them off so the client is not cut short.
          while (await bytes.more()) bytes.take(bytes.buffered.length)
          return
        }
        // Hand on everything that cannot be the start of the delimiter (views stay valid: more()
        // builds a new buffer rather than writing into the old one).
        const safe = buf.length - (delimiter.length - 1)
        if (safe > 0) {
          controller.enqueue(bytes.take(safe))
          return
        }
        if (!(await bytes.more())) {
          throw malformed('The form ended before the closing boundary of the file.')
        }
      }
    },
    cancel(reason) {
      if (!finished) return bytes.cancel(reason)
    },
  })
}
