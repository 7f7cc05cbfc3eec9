/**
 * How many uploads (PutObject, UploadPart) may stream at once per user and per connection; beyond
 * that a request is refused with SlowDown before its body is read. Pure bookkeeping, no I/O.
 */

export interface UploadLimits {
  /** Uploads one access key may have streaming at once (a presigned URL counts as its signer); 0: no limit. */
  maxUploadsPerUser: number
  /**
   * Uploads one client connection may carry at once; 0: no limit. HTTP/1.1 carries one request
   * at a time, so this matters where a runtime speaks HTTP/2 (Deno negotiates it over TLS).
   */
  maxUploadsPerConnection: number
}

/**
 * 64 per user: ten times what common clients open (the AWS CLI's 10 concurrent requests, rclone's
 * 4 transfers × 4 parts), while an abuser's slow uploads stay a bounded number of sockets and files.
 */
export const DEFAULT_UPLOAD_LIMITS: UploadLimits = { maxUploadsPerUser: 64, maxUploadsPerConnection: 8 }

export class UploadSlots {
  private readonly users = new Map<string, number>()
  private readonly connections = new Map<string, number>()

  constructor(private readonly limits: UploadLimits) {}

  /**
   * Takes a slot for `user` on `connection` (undefined when the runtime cannot name it): a
   * release function (idempotent), or why not when a limit is reached.
   */
  take(user: string, connection: string | undefined): { release(): void } | { refused: string } {
    const { maxUploadsPerUser: perUser, maxUploadsPerConnection: perConn } = this.limits
    if (perUser > 0 && (this.users.get(user) ?? 0) >= perUser)
      return { refused: `This access key already has ${perUser} uploads in progress; retry when one has finished.` }
    if (connection !== undefined && perConn > 0 && (this.connections.get(connection) ?? 0) >= perConn)
      return { refused: `This connection already carries ${perConn} uploads; retry when one has finished.` }
    bump(this.users, user, 1)
    if (connection !== undefined) bump(this.connections, connection, 1)
    let released = false
    return {
      release: () => {
        if (released) return
        released = true
        bump(this.users, user, -1)
        if (connection !== undefined) bump(this.connections, connection, -1)
      },
    }
  }

  /** Slots in use (for tests and metrics). */
  inUse(): number {
    let n = 0
    for (const v of this.users.values()) n += v
    return n
  }
}

/** Adds `by` to a counter; a counter back at 0 is forgotten, so the maps stay as small as the traffic. */
function bump(m: Map<string, number>, key: string, by: number): void {
  const v = (m.get(key) ?? 0) + by
  if (v > 0) m.set(key, v)
  else m.delete(key)
}
