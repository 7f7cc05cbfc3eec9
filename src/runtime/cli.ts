/**
 * The `coffer` command line: argv → command (server, node, cluster, admin, help, version), shared
 * by the Node, Deno and Bun entries. Parsing is pure (parseCommand); main runs the command.
 */
import { readFileSync } from 'node:fs'
import type { RuntimeAdapter } from './adapter.ts'
import { runServer, type Output } from './bootstrap.ts'
import { parseServerArgs, serverFlagsHelp } from './env.ts'
import { runAdminCommand } from './admin-cli.ts'
import { runClusterCommand } from './cluster.ts'
import { runNodeCommand } from './storage-node.ts'

/** Exit code for a usage error: the command line must change, retrying will not help. */
export const EXIT_USAGE = 2

export type Command =
  | { kind: 'server'; args: string[] }
  | { kind: 'help' }
  | { kind: 'version' }
  | { kind: 'admin'; args: string[] }
  | { kind: 'node'; args: string[] }
  | { kind: 'cluster'; args: string[] }
  | { kind: 'unknown'; name: string }

export function parseCommand(argv: string[]): Command {
  const [first, ...rest] = argv
  if (first === undefined || first === 'help' || first === '--help' || first === '-h') return { kind: 'help' }
  if (first === '--version' || first === '-v' || first === 'version') return { kind: 'version' }
  if (first === 'server') return { kind: 'server', args: rest }
  if (first === 'admin') return { kind: 'admin', args: rest }
  if (first === 'node') return { kind: 'node', args: rest }
  if (first === 'cluster') return { kind: 'cluster', args: rest }
  return { kind: 'unknown', name: first }
}

export function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string }
  return pkg.version ?? 'unknown'
}

export function helpText(): string {
  return [
    'coffer — S3-compatible object storage over HTTPS',
    '',
    'Usage:',
    '  coffer server [flags]    run a gateway with local drives (npm start -- [flags])',
    '  coffer cluster init --out cluster.json   create a cluster secret and CA for storage nodes',
    '  coffer node --cluster FILE --data DIR --port N [--host H]   run a storage node',
    '  coffer server --cluster FILE --nodes URL,URL,…   a gateway over storage nodes',
    '  coffer admin GROUP VERB  operator API: heal status|run (coffer admin --help)',
    '  coffer help              this text',
    '  coffer --version         print the version',
    '',
    'Server flags [environment variable]:',
    serverFlagsHelp(),
    '',
    'Root credentials: COFFER_ROOT_ACCESS_KEY and COFFER_ROOT_SECRET_KEY; when unset they are',
    'generated at first start into <data>/credentials.json (mode 0600) and printed once.',
    '',
  ].join('\n')
}

const consoleOutput: Output = {
  out: (text) => console.log(text),
  err: (text) => console.error(text),
}

/**
 * Runs one command. Resolves with an exit code, or undefined while a server keeps running
 * (it exits through the adapter on SIGINT/SIGTERM).
 */
export async function main(
  argv: string[],
  adapter: RuntimeAdapter,
  env: Record<string, string | undefined>,
  io: Output = consoleOutput,
): Promise<number | undefined> {
  const cmd = parseCommand(argv)
  switch (cmd.kind) {
    case 'help':
      io.out(helpText())
      return 0
    case 'version':
      io.out(`coffer ${version()} (${adapter.name})`)
      return 0
    case 'admin':
      return runAdminCommand(cmd.args, env, io)
    case 'node':
      return runNodeCommand(cmd.args, env, io, adapter)
    case 'cluster':
      return runClusterCommand(cmd.args, env, io)
    case 'unknown':
      io.err(`coffer: unknown command "${cmd.name}": use \`coffer server [flags]\`, or \`coffer help\` for the list`)
      return EXIT_USAGE
    case 'server': {
      const parsed = parseServerArgs(cmd.args, env)
      if (!parsed.ok) {
        for (const p of parsed.problems) io.err(`coffer server: ${p}`)
        io.err('See `coffer help` for every flag.')
        return EXIT_USAGE
      }
      if (parsed.help) {
        io.out(helpText())
        return 0
      }
      try {
        await runServer(parsed.config, adapter, env, io)
        return undefined
      } catch (e) {
        io.err(`coffer: cannot start: ${e instanceof Error ? e.message : String(e)}`)
        return 1
      }
    }
  }
}
