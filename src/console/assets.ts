/**
 * The console's only script and style, served from the package under /_coffer/console/assets/
 * (no CDN, no build step: the service works offline, and the CSP allows only 'self'). Kept as
 * text here so every runtime serves them without file access. The script is progressive
 * enhancement: every page works with plain forms; with the script, uploads stream with progress
 * bars and cancel (multipart above PART_SIZE), confirmations ask first, copy buttons copy.
 */

/** Files above this go up as a multipart upload, in parts of this size (S3's minimum part is 5 MiB). */
export const UPLOAD_PART_SIZE = 8 * 1024 * 1024

const SCRIPT = `'use strict'
;(() => {
  const BASE = '/_coffer/console'
  const PART = ${UPLOAD_PART_SIZE}
  const meta = document.querySelector('meta[name="coffer-csrf"]')
  const csrf = meta ? meta.getAttribute('content') : ''

  document.addEventListener('submit', (ev) => {
    const f = ev.target
    if (f instanceof HTMLFormElement && f.dataset.confirm && !window.confirm(f.dataset.confirm)) ev.preventDefault()
  })

  document.addEventListener('click', async (ev) => {
    const b = ev.target instanceof Element ? ev.target.closest('[data-copy]') : null
    if (!b) return
    const input = document.getElementById(b.getAttribute('data-copy'))
    if (!input) return
    input.select()
    try {
      await navigator.clipboard.writeText(input.value)
    } catch {
      document.execCommand('copy')
    }
    b.textContent = 'Copied'
  })

  // The health page's charts: the section is fetched again every data-refresh seconds and swapped
  // in (nothing else on the page moves, a half-filled form stays as it is); without the script,
  // its Refresh link or a reload does the same.
  const charts = document.getElementById('charts')
  const every = charts ? Number(charts.dataset.refresh) : 0
  if (every > 0) {
    setInterval(async () => {
      if (document.hidden) return
      try {
        const page = await fetch(location.pathname, { credentials: 'same-origin' })
        if (!page.ok) return
        const fresh = new DOMParser().parseFromString(await page.text(), 'text/html').getElementById('charts')
        const old = document.getElementById('charts')
        if (fresh && old) old.replaceWith(fresh)
      } catch {}
    }, every * 1000)
  }

  const box = document.getElementById('upload')
  if (!box) return
  const form = box.closest('form')
  const list = document.getElementById('upload-progress')
  const bucket = box.dataset.bucket
  const prefix = box.dataset.prefix || ''
  const api = BASE + '/api/b/' + encodeURIComponent(bucket)

  /** One request with upload progress; resolves with the status and the JSON answer. */
  function send(job, method, url, body, headers, onProgress) {
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest()
      job.xhr = xhr
      xhr.open(method, url)
      xhr.setRequestHeader('x-coffer-csrf', csrf)
      for (const [k, v] of Object.entries(headers || {})) xhr.setRequestHeader(k, v)
      if (onProgress) xhr.upload.onprogress = (e) => onProgress(e.loaded)
      xhr.onload = () => {
        let json = {}
        try { json = JSON.parse(xhr.responseText) } catch {}
        if (xhr.status >= 200 && xhr.status < 300) resolve(json)
        else reject(new Error((json.message || 'The upload failed') + ' (' + (json.error || xhr.status) + ')'))
      }
      xhr.onerror = () => reject(new Error('The connection failed.'))
      xhr.onabort = () => reject(new Error('Cancelled.'))
      xhr.send(body)
    })
  }

  async function uploadOne(file) {
    const key = prefix + (file.webkitRelativePath || file.name)
    const li = document.createElement('li')
    const label = document.createElement('span')
    label.textContent = key
    const bar = document.createElement('progress')
    bar.max = Math.max(file.size, 1)
    bar.value = 0
    bar.setAttribute('aria-label', 'Upload of ' + key)
    const cancel = document.createElement('button')
    cancel.type = 'button'
    cancel.textContent = 'Cancel'
    const status = document.createElement('span')
    status.className = 'status'
    li.append(label, bar, cancel, status)
    list.append(li)
    const job = { xhr: null, cancelled: false }
    cancel.addEventListener('click', () => {
      job.cancelled = true
      if (job.xhr) job.xhr.abort()
    })
    const q = (extra) => '?' + new URLSearchParams(Object.assign({ key }, extra)).toString()
    const type = { 'x-coffer-content-type': file.type || 'application/octet-stream' }
    let uploadId = null
    try {
      if (file.size <= PART) {
        await send(job, 'PUT', api + '/object' + q(), file, type, (n) => { bar.value = n })
      } else {
        uploadId = (await send(job, 'POST', api + '/multipart' + q(), null, type)).uploadId
        const parts = []
        for (let n = 1, at = 0; at < file.size; n++, at += PART) {
          if (job.cancelled) throw new Error('Cancelled.')
          const part = await send(job, 'PUT', api + '/multipart/part' + q({ uploadId, partNumber: String(n) }),
            file.slice(at, at + PART), null, (done) => { bar.value = at + done })
          parts.push({ partNumber: n, etag: part.etag })
        }
        await send(job, 'POST', api + '/multipart/complete' + q({ uploadId }), JSON.stringify({ parts }),
          { 'content-type': 'application/json' })
      }
      bar.value = bar.max
      status.textContent = 'Done'
      li.dataset.state = 'done'
      cancel.remove()
      return true
    } catch (e) {
      if (uploadId) send({}, 'POST', api + '/multipart/abort' + q({ uploadId })).catch(() => {})
      status.textContent = e.message
      li.dataset.state = job.cancelled ? 'cancelled' : 'failed'
      cancel.remove()
      return false
    }
  }

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault()
    const files = []
    for (const input of form.querySelectorAll('input[type=file]')) files.push(...input.files)
    if (files.length === 0) return
    list.dataset.state = 'running'
    let ok = true
    for (const f of files) ok = (await uploadOne(f)) && ok
    // The listing is fetched again and swapped in, so the progress bars stay on screen.
    try {
      const page = await fetch(location.href, { credentials: 'same-origin' })
      const fresh = new DOMParser().parseFromString(await page.text(), 'text/html').getElementById('listing')
      const old = document.getElementById('listing')
      if (fresh && old) old.replaceWith(fresh)
    } catch {}
    list.dataset.state = ok ? 'done' : 'failed'
  })
})()
`

const STYLE = `:root { color-scheme: light; --fg: #1a1a1a; --muted: #555; --accent: #0b57d0; --bad: #a50e0e; --ok: #146c2e; --line: #d0d0d0; }
* { box-sizing: border-box; }
body { margin: 0; font: 16px/1.5 system-ui, sans-serif; color: var(--fg); background: #fff; }
header.top { display: flex; flex-wrap: wrap; align-items: center; gap: 1rem; padding: .5rem 1rem; background: #f2f4f7; border-bottom: 1px solid var(--line); }
header.top nav { display: flex; flex-wrap: wrap; align-items: center; gap: 1rem; margin-left: auto; }
.brand { font-weight: 700; text-decoration: none; color: var(--fg); }
main { padding: 1rem; max-width: 72rem; margin: 0 auto; }
a { color: var(--accent); }
a:focus, button:focus, input:focus, select:focus { outline: 3px solid #f0a500; outline-offset: 2px; }
table { border-collapse: collapse; width: 100%; margin: 1rem 0; }
th, td { text-align: left; padding: .4rem .5rem; border-bottom: 1px solid var(--line); overflow-wrap: anywhere; }
button, .button { font: inherit; padding: .35rem .8rem; border: 1px solid var(--accent); background: var(--accent); color: #fff; border-radius: 4px; cursor: pointer; text-decoration: none; display: inline-block; }
button.danger { background: #fff; color: var(--bad); border-color: var(--bad); }
input, select { font: inherit; padding: .3rem .4rem; border: 1px solid #888; border-radius: 4px; max-width: 100%; }
.card { border: 1px solid var(--line); border-radius: 6px; padding: .8rem; margin: 1rem 0; }
.row { display: flex; flex-wrap: wrap; align-items: center; gap: .5rem; }
.row .pair { display: inline-flex; align-items: center; gap: .5rem; }
.row input[type=number] { width: 6rem; }
.narrow { display: grid; gap: .4rem; max-width: 24rem; }
form.inline { display: inline; }
.error { color: var(--bad); border-left: 4px solid var(--bad); padding-left: .5rem; }
.ok { color: var(--ok); border-left: 4px solid var(--ok); padding-left: .5rem; }
.hint { color: var(--muted); }
dl.state { display: grid; grid-template-columns: max-content 1fr; gap: .2rem 1rem; }
dl.state dt { color: var(--muted); }
dl.state dd { margin: 0; overflow-wrap: anywhere; }
.upload-controls { display: flex; flex-wrap: wrap; align-items: center; gap: .5rem; }
.progress-list { list-style: none; padding: 0; }
.progress-list li { display: flex; flex-wrap: wrap; gap: .5rem; align-items: center; margin: .3rem 0; }
.progress-list progress { width: 12rem; }
.share input, .secret input { width: 100%; }
td.up { color: var(--ok); } td.down { color: var(--bad); font-weight: 700; }
.sr-only { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
.crumbs { margin-bottom: .5rem; }
.charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(min(100%, 30rem), 1fr)); gap: 1rem; }
figure.chart { margin: 0; border: 1px solid var(--line); border-radius: 6px; padding: .5rem; }
figure.chart figcaption { font-weight: 600; display: flex; flex-wrap: wrap; justify-content: space-between; gap: .5rem; }
figure.chart svg { width: 100%; height: auto; display: block; }
.chart .grid line { stroke: #e3e3e3; stroke-width: 1; }
.chart .axis text { font-size: 18px; fill: var(--muted); }
.chart .line polyline { fill: none; stroke-width: 2.5; stroke-linejoin: round; }
.chart .s0 polyline { stroke: var(--accent); }
.chart .s1 polyline { stroke: var(--bad); stroke-dasharray: 6 3; }
.legend { font-weight: 400; color: var(--muted); }
.legend .key::before { content: ''; display: inline-block; width: 1.2rem; height: 3px; vertical-align: middle; margin: 0 .3rem 0 .8rem; background: var(--accent); }
.legend .key.s1::before { background: var(--bad); }
textarea { font: 14px/1.4 ui-monospace, SFMono-Regular, Menlo, monospace; width: 100%; padding: .4rem; border: 1px solid #888; border-radius: 4px; }
textarea:focus { outline: 3px solid #f0a500; outline-offset: 2px; }
.narrow.wide { max-width: 48rem; }
@media (max-width: 40rem) { table.objects th:nth-child(n+4), table.objects td:nth-child(n+4) { display: none; } main { padding: .5rem; } }
`

export const ASSETS: Record<string, { type: string; body: string }> = {
  'console.js': { type: 'text/javascript; charset=utf-8', body: SCRIPT },
  'console.css': { type: 'text/css; charset=utf-8', body: STYLE },
}
