/** The Hono environment of the console's routes: what the session middleware sets for the pages. */
import type { User } from './as-user.ts'
import type { Viewer } from './layout.tsx'

export interface ConsoleEnv {
  /** What the runtime adapter passes as env (src/app.ts AdapterEnv): the client's `address:port`. */
  Bindings: { connection?: string }
  Variables: { sessionId: string; viewer: Viewer; user: User }
}
