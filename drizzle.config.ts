/**
 * drizzle-kit configuration: `npm run db:generate` turns src/meta/schema.ts into SQL migrations
 * under src/meta/migrations, which openDb applies at start-up. Never edit a shipped migration.
 */
import { defineConfig } from 'drizzle-kit'

export default defineConfig({
  // 'turso' = SQLite as libSQL speaks it (embedded file: and sqld alike); plain 'sqlite' also works.
  dialect: 'turso',
  schema: './src/meta/schema.ts',
  out: './src/meta/migrations',
})
