/**
 * The shard reader's HTTP/1.1 response parser: the same head and body however the bytes are split,
 * and every malformed or unfinished answer an error, never a short body taken as whole.
 */
import { describe, expect, it } from 'vitest'
import { HttpParseError, MAX_HEAD_BYTES, ResponseParser, type ResponseHead } from './http1-response.ts'

const enc = (s: string) => new TextEncoder().encode(s)
const dec = (b: Uint8Array) => new TextDecoder().decode(b)

interface Parsed {
  heads: ResponseHead[]
  body: string
  ended: number
  parser: ResponseParser
}

/** Feeds `pieces` in order; body views are copied at once, as the caller must. */
function parse(...pieces: Uint8Array[]): Parsed {
  const out: Parsed = { heads: [], body: '', ended: 0, parser: undefined as unknown as ResponseParser }
  out.parser = new ResponseParser({
    head: (h) => out.heads.push(h),
    body: (b) => {
      out.body += dec(b.slice())
    },
    end: () => out.ended++,
  })
  for (const p of pieces) out.parser.push(p)
  return out
}

/** Every way of cutting `bytes` in two, and one byte at a time. */
function splits(bytes: Uint8Array): Uint8Array[][] {
  const ways: Uint8Array[][] = [[bytes], Array.from(bytes, (_, i) => bytes.subarray(i, i + 1))]
  for (let i = 1; i < bytes.length; i++) ways.push([bytes.subarray(0, i), bytes.subarray(i)])
  return ways
}

const LENGTH = enc('HTTP/1.1 200 OK\r\ncontent-type: application/octet-stream\r\nContent-Length: 11\r\n\r\nhello world')
const CHUNKED = enc(
  'HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nx-trailer: 1\r\n\r\n',
)

describe('ResponseParser', () => {
  it('reads a content-length answer the same at every split', () => {
    for (const pieces of splits(LENGTH)) {
      const r = parse(...pieces)
      expect(r.heads).toHaveLength(1)
      expect(r.heads[0]!.status).toBe(200)
      expect(r.heads[0]!.headers).toContainEqual(['Content-Length', '11'])
      expect(r.heads[0]!.framing).toEqual({ kind: 'length', length: 11 })
      expect(r.heads[0]!.keepAlive).toBe(true)
      expect(r.body).toBe('hello world')
      expect(r.ended).toBe(1)
      expect(r.parser.done).toBe(true)
      expect(r.parser.trailing).toBe(0)
    }
  })

  it('reads a chunked answer (extensions, trailer) the same at every split', () => {
    for (const pieces of splits(CHUNKED)) {
      const r = parse(...pieces)
      expect(r.heads[0]!.status).toBe(404)
      expect(r.heads[0]!.framing).toEqual({ kind: 'chunked' })
      expect(r.body).toBe('hello world')
      expect(r.ended).toBe(1)
      expect(r.parser.trailing).toBe(0)
    }
  })

  it('counts bytes after the end (the connection is then not reused) and skips an interim 100', () => {
    const r = parse(enc('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\nHTTP/1.1'))
    expect(r.heads.map((h) => h.status)).toEqual([204])
    expect(r.ended).toBe(1)
    expect(r.parser.trailing).toBe(8)
  })

  it('without a length reads to the close, and never keeps that connection', () => {
    const r = parse(enc('HTTP/1.1 500 Oops\r\n\r\nsome'), enc(' text'))
    expect(r.heads[0]!.framing).toEqual({ kind: 'close' })
    expect(r.heads[0]!.keepAlive).toBe(false)
    expect(r.ended).toBe(0)
    r.parser.close()
    expect(r.body).toBe('some text')
    expect(r.ended).toBe(1)
  })

  it('a connection closed before the promised length, mid chunk or mid head is an error, not an end', () => {
    for (const bytes of [LENGTH, CHUNKED]) {
      for (let i = 0; i < bytes.length; i++) {
        const r = parse(bytes.subarray(0, i))
        expect(() => r.parser.close(), `cut at ${i}`).toThrow(HttpParseError)
        expect(r.ended).toBe(0)
      }
    }
  })

  it('honours Connection: close and HTTP/1.0', () => {
    expect(parse(enc('HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n')).heads[0]!.keepAlive).toBe(
      false,
    )
    expect(parse(enc('HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n')).heads[0]!.keepAlive).toBe(false)
  })

  it('refuses a bad status line, bad headers, bad framing and an oversized head', () => {
    const bad = [
      'HTTP/2 200 OK\r\n\r\n',
      'HTTP/1.1 20 OK\r\n\r\n',
      'ICY 200 OK\r\n\r\n',
      'HTTP/1.1 200 OK\r\nno colon here\r\n\r\n',
      'HTTP/1.1 200 OK\r\n folded: value\r\n\r\n',
      'HTTP/1.1 200 OK\r\nContent-Length: 12x\r\n\r\n',
      'HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n',
      'HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n',
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n',
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n',
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabX\r\n',
    ]
    for (const s of bad) expect(() => parse(enc(s)), s).toThrow(HttpParseError)
    const long = enc(`HTTP/1.1 200 OK\r\nx-big: ${'a'.repeat(MAX_HEAD_BYTES)}\r\n\r\n`)
    expect(() => parse(long)).toThrow(/too long/)
    // Split into small pieces, the limit holds across feeds too.
    expect(() =>
      parse(...Array.from({ length: Math.ceil(long.length / 100) }, (_, i) => long.subarray(i * 100, i * 100 + 100))),
    ).toThrow(/too long/)
  })

  it('a content-length with chunked framing is read as chunked and never kept alive', () => {
    const r = parse(
      enc('HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\n\r\n'),
    )
    expect(r.body).toBe('a')
    expect(r.heads[0]!.keepAlive).toBe(false)
  })
})
