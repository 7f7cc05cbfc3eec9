// Preloaded into a gateway by bench/eight-rss.ts when MEMLOG is set (NODE_OPTIONS=--require …):
// samples process.memoryUsage() every 20 ms and, on SIGUSR2, writes the peaks since the previous
// SIGUSR2 to MEMLOG as JSON and starts over — what of the peak RSS is V8's heap and what is
// ArrayBuffers (external), which VmHWM alone cannot say. Bench-only; never loaded by the server.
const { writeFileSync } = require('node:fs')

const file = process.env.MEMLOG
if (file) {
  let peak
  let atRss
  const reset = () => {
    peak = { rss: 0, heapTotal: 0, heapUsed: 0, external: 0, arrayBuffers: 0 }
    atRss = undefined
  }
  reset()
  const sample = () => {
    const m = process.memoryUsage()
    for (const k of Object.keys(peak)) if (m[k] > peak[k]) peak[k] = m[k]
    if (!atRss || m.rss >= atRss.rss) atRss = m
  }
  setInterval(sample, 20).unref()
  // MEMLOG_GC=1 (with --expose-gc): a full GC every 500 ms, and the largest ArrayBuffer total
  // right after one — what is live, not garbage waiting for the collector. It changes what it
  // measures (more GCs), so its RSS figures are not the shipped ones.
  if (process.env.MEMLOG_GC === '1' && typeof global.gc === 'function')
    setInterval(() => {
      global.gc()
      const m = process.memoryUsage()
      if (m.arrayBuffers > (peak.liveArrayBuffers ?? 0)) peak.liveArrayBuffers = m.arrayBuffers
      if (m.heapUsed > (peak.liveHeap ?? 0)) peak.liveHeap = m.heapUsed
    }, 500).unref()
  process.on('SIGUSR2', () => {
    sample()
    writeFileSync(file, JSON.stringify({ peak, atRss }))
    reset()
  })
}
