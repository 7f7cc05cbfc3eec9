/**
 * The storage-node wire protocol shared by server.ts and client.ts: paths, header names, the
 * signing string's parts and the shard-PUT trailer. Constants only (plus pure path builders).
 */

/** The node transport: every request a gateway sends a node goes through this port. */
export type ClusterFetch = (req: Request) => Promise<Response>

// FORMAT: the node API paths. Gateways and nodes of one cluster must agree. DO NOT CHANGE;
// a new protocol gets a new version prefix (the old one keeps working during a rolling upgrade).
export const API_PREFIX = '/v1'
/** PUT (streamed, trailer-framed), GET `?offset=&length=`, DELETE. */
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

// FORMAT: request authentication (see auth.ts for the signing string). DO NOT CHANGE.
/** Milliseconds since the Unix epoch, decimal. */
export const HEADER_DATE = 'x-coffer-date'
/** 16 random bytes as 32 lowercase hex digits; each is accepted once within the time window. */
export const HEADER_NONCE = 'x-coffer-nonce'
/** Lowercase hex SHA-256 of the body, or STREAMING_PAYLOAD for a trailer-framed shard PUT. */
export const HEADER_CONTENT = 'x-coffer-content-sha256'
/** Lowercase hex HMAC-SHA256 of the signing string under the derived request key. */
export const HEADER_SIGNATURE = 'x-coffer-signature'
/**
 * Sent by a node with a 401 for a request dated at or below its replay mark (replay-mark.ts): the
 * mark, so a gateway whose clock runs behind signs its next requests after it.
 */
export const HEADER_REPLAY_FLOOR = 'x-coffer-replay-floor'
/** First line of the signing string; names the scheme and its version. */
export const SIGNING_SCHEME = 'COFFER-NODE-HMAC-SHA256-V1'
/** The request key is HMAC-SHA256(cluster secret, this label): the raw secret never signs anything. */
export const REQUEST_KEY_LABEL = 'coffer-node-request-key-v1'
/** HEADER_CONTENT value announcing a body of payload ‖ trailer. */
export const STREAMING_PAYLOAD = 'STREAMING-HMAC-SHA256-TRAILER-V1'

// FORMAT: the shard-PUT trailer, the last TRAILER_LENGTH bytes of the body. DO NOT CHANGE.
//   trailer = "CFT1" ‖ payload length (u64, big-endian) ‖ mac (32 bytes)
//   mac     = HMAC-SHA256(request key, "CFT1\n" ‖ request signature hex ‖ "\n" ‖
//                         payload length decimal ‖ "\n" ‖ hex SHA-256(payload))
export const TRAILER_MAGIC = 'CFT1'
export const TRAILER_MAC_LENGTH = 32
export const TRAILER_LENGTH = 4 + 8 + TRAILER_MAC_LENGTH

/** Requests whose date is further than this from the node's clock are refused (401). */
export const CLOCK_WINDOW_MS = 5 * 60_000
/** Largest body a non-PUT request may carry (they carry none today; room for small JSON later). */
export const MAX_SMALL_BODY = 64 * 1024
/** LIST pages: the client asks for DEFAULT, the node never returns more than MAX. */
export const DEFAULT_LIST_PAGE = 1000
export const MAX_LIST_PAGE = 10_000

export const shardUrl = (base: string, name: string, query = '') => `${base}${SHARDS_PATH}/${name}${query}`
