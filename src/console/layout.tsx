/** @jsxImportSource hono/jsx */
/**
 * The page frame every console page shares: header with the signed-in user and sign-out, the
 * navigation, a message area. Rendered by Hono JSX on the server; the only script and style are
 * the package's own files under assets/, so the Content-Security-Policy needs no 'unsafe-inline'.
 */
import type { Child } from 'hono/jsx'

export const BASE = '/_coffer/console'

export interface Viewer {
  displayName: string
  accessKeyId: string
  namespace: string
  isRoot: boolean
  csrf: string
}

/** A form that changes state: POST, with the session's CSRF token. */
export function PostForm(props: {
  action: string
  csrf: string
  confirm?: string
  class?: string
  children: Child
  enctype?: 'multipart/form-data'
}) {
  return (
    <form method="post" action={props.action} class={props.class} data-confirm={props.confirm} enctype={props.enctype}>
      <input type="hidden" name="_csrf" value={props.csrf} />
      {props.children}
    </form>
  )
}

/** An error from the API as a sentence, with the S3 code. */
export function ErrorNote(props: { error?: { code: string; message: string } }) {
  if (!props.error) return null
  return (
    <p class="error" role="alert">
      {props.error.message} <code>({props.error.code})</code>
    </p>
  )
}

/** What an action did: its error (ErrorNote), or a sentence saying it was done. */
export function Notices(props: { notice: { error?: { code: string; message: string }; done?: string } }) {
  return (
    <>
      <ErrorNote error={props.notice.error} />
      {props.notice.done ? (
        <p class="ok" role="status">
          {props.notice.done}
        </p>
      ) : null}
    </>
  )
}

export function Page(props: { title: string; viewer?: Viewer; children: Child }) {
  const v = props.viewer
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        {v ? <meta name="coffer-csrf" content={v.csrf} /> : null}
        <title>{`${props.title} · Coffer console`}</title>
        <link rel="icon" href="data:," />
        <link rel="stylesheet" href={`${BASE}/assets/console.css`} />
        <script src={`${BASE}/assets/console.js`} defer />
      </head>
      <body>
        <header class="top">
          <a class="brand" href={`${BASE}/`}>
            Coffer
          </a>
          {v ? (
            <nav aria-label="Main">
              <a href={`${BASE}/`}>Buckets</a>
              {v.isRoot ? <a href={`${BASE}/admin`}>Operator</a> : null}
              <span class="who">
                {v.displayName} <small>({v.namespace})</small>
              </span>
              <PostForm action={`${BASE}/logout`} csrf={v.csrf} class="inline">
                <button type="submit">Sign out</button>
              </PostForm>
            </nav>
          ) : null}
        </header>
        <main>
          <h1>{props.title}</h1>
          {props.children}
        </main>
      </body>
    </html>
  )
}

export function formatBytes(n: number): string {
  if (!Number.isFinite(n)) return '—'
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB']
  let i = 0
  let v = n
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024
    i++
  }
  return i === 0 ? `${v} B` : `${v.toFixed(1)} ${units[i]}`
}
