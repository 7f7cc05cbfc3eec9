/** Types of bin/bundle.mjs (plain JavaScript, so that it runs before any TypeScript loader). */
export declare function gatewayBundle(): Promise<{ cli: string; node: string }>
