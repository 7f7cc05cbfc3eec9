/**
 * The storage-node wire protocol shared by server.ts and client.ts: paths and limits. Constants
 * only (plus pure path builders). Authentication and integrity are the transport's: mutual TLS
 * with certificates from the cluster CA (docs/architecture.md §1), so no header or body is signed.
 */

/** The node transport: every request a gateway sends a node goes through this port. */
export type ClusterFetch = (req: Request, hints?: FetchHints) => Promise<Response>

/** What the caller will do with an answer's body, so a transport may shape its pieces (or ignore it). */
export interface FetchHints {
  /**
   * The body is read in pieces of exactly `unit` bytes (the last may be shorter): a transport may
   * hand a 200 answer's body on in such pieces, each leased from a BytePool with one holder
   * (src/util/byte-pool.ts), as DiskStore's whole-unit reads are; the read path gives them back.
   */
  unit?: number
}

// FORMAT: the node API paths. Gateways and nodes of one cluster must agree. DO NOT CHANGE;
// a new protocol gets a new version prefix. v1 signed every request with an HMAC and framed shard
// PUTs with a MAC trailer; v2 is the same API without them, over mutual TLS. A v1 gateway cannot
// reach a v2 node (no client certificate) nor a v2 gateway a v1 node (404 on /v2): a cluster
// upgrades all its gateways and nodes together (docs/architecture.md §1).
export const API_PREFIX = '/v2'
/** PUT (streamed, the body is the shard), GET `?offset=&length=`, DELETE. */
export const SHARDS_PATH = `${API_PREFIX}/shards`
/** GET → 200 {"size": N} or 404 (Hono runs HEAD as GET, so stat is its own GET route). */
export const STAT_PATH = `${API_PREFIX}/stat`
/** GET `?limit=N[&cursor=C]` → 200 {"names": [...], "cursor"?: C}; no cursor = last page. */
export const LIST_PATH = `${API_PREFIX}/list`
/**
 * GET → 200 {"ok": true} or 503 {"ok": false}: the node's drive passed (or failed) its check;
 * with "space": {"free": N, "total": N, "fs": "dev:N"} when the node can tell (added later: optional).
 */
export const HEALTH_PATH = `${API_PREFIX}/health`

/** LIST pages: the client asks for DEFAULT, the node never returns more than MAX. */
export const DEFAULT_LIST_PAGE = 1000
export const MAX_LIST_PAGE = 10_000

export const shardUrl = (base: string, name: string, query = '') => `${base}${SHARDS_PATH}/${name}${query}`
