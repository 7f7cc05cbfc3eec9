/**
 * A server's HTTPS address as clients write it. Its own module: `coffer node` needs it without
 * loading the gateway's whole stack through bootstrap.ts.
 */

/** `https://host:port` with IPv6 literals bracketed. */
export function endpointUrl(host: string, port: number): string {
  return `https://${host.includes(':') ? `[${host}]` : host}:${port}`
}
