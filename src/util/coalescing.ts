/**
 * coalescing: shares a durability sync (a directory fsync, a WAL fsync) between concurrent
 * callers, so N writes that arrive while a sync runs pay for one more sync, not N. Pure.
 */

/**
 * Group commit for syncs: per key at most one sync runs and at most one waits behind it. A caller
 * arriving while a sync runs cannot count on it (the sync may have started before the caller's
 * change), so it joins the queued one, which starts only after every joiner's change. Each
 * caller's promise settles after a sync that began after its change.
 */
export function coalescing(sync: (key: string) => Promise<void>): (key: string) => Promise<void> {
  interface Slot {
    running: Promise<void>
    queued?: Promise<void>
  }
  const slots = new Map<string, Slot>()
  const noop = () => {}
  const launch = (key: string, slot: Slot): Promise<void> => {
    const p = sync(key)
    const settled = () => {
      if (slot.running === p && !slot.queued) slots.delete(key)
    }
    p.then(settled, settled)
    return p
  }
  return (key) => {
    const slot = slots.get(key)
    if (!slot) {
      const fresh: Slot = { running: Promise.resolve() }
      fresh.running = launch(key, fresh)
      slots.set(key, fresh)
      return fresh.running
    }
    slot.queued ??= slot.running.then(noop, noop).then(() => {
      slot.queued = undefined
      slot.running = launch(key, slot)
      return slot.running
    })
    return slot.queued
  }
}
