/**
 * The `coffer` command line: argv → command (server, node, cluster, admin, help, version), shared
 * by the Node, Deno and Bun entries. Parsing is pure (parseCommand); main runs the command.
 *
 * Each command's module is imported when that command runs, not before: `coffer admin …` (a
 * short-lived client, run many times by scripts and the test suite) then loads the admin client
 * only, not the server and storage stack that `coffer server` needs (about 1.5 s of CPU per start).
 * The command list and help text are in commands.ts.
 */
import { readFileSync } from 'node:fs'
import type { RuntimeAdapter } from './adapter.ts'
import { EXIT_USAGE, usageError } from './args.ts'
import type { Output } from './bootstrap.ts'

export { EXIT_USAGE }

export type Command =
  | { kind: 'server'; args: string[] }
  | { kind: 'help' }
  | { kind: 'version' }
  | { kind: 'admin'; args: string[] }
  | { kind: 'node'; args: string[] }
  | { kind: 'cluster'; args: string[] }
  | { kind: 'meta-server'; args: string[] }
  | { kind: 'unknown'; name: string }

export function parseCommand(argv: string[]): Command {
  const [first, ...rest] = argv
  // `coffer help admin user` is `coffer admin user --help`.
  if (first === 'help' && rest.length > 0) return parseCommand([...rest, '--help'])
  if (first === undefined || first === 'help' || first === '--help' || first === '-h') return { kind: 'help' }
  if (first === '--version' || first === '-v' || first === 'version') return { kind: 'version' }
  if (first === 'server') return { kind: 'server', args: rest }
  if (first === 'admin') return { kind: 'admin', args: rest }
  if (first === 'node') return { kind: 'node', args: rest }
  if (first === 'cluster') return { kind: 'cluster', args: rest }
  if (first === 'meta-server') return { kind: 'meta-server', args: rest }
  return { kind: 'unknown', name: first }
}

export function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string }
  return pkg.version ?? 'unknown'
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
      io.out((await import('./commands.ts')).helpText())
      return 0
    case 'version':
      io.out(`coffer ${version()} (${adapter.name})`)
      return 0
    case 'admin':
      return (await import('./admin-cli.ts')).runAdminCommand(cmd.args, env, io)
    case 'node':
      return (await import('./storage-node.ts')).runNodeCommand(cmd.args, env, io, adapter)
    case 'cluster':
      return (await import('./cluster.ts')).runClusterCommand(cmd.args, env, io)
    case 'meta-server':
      return (await import('./meta-server.ts')).runMetaServerCommand(cmd.args, env, io, adapter)
    case 'unknown':
      io.err(`coffer: unknown command "${cmd.name}": use \`coffer server [flags]\`, or \`coffer help\` for the list`)
      return EXIT_USAGE
    case 'server': {
      const { parseServerArgs, SERVER_COMMAND, serverHelp } = await import('./env.ts')
      const parsed = parseServerArgs(cmd.args, env)
      if (!parsed.ok) return usageError(io, SERVER_COMMAND.name, parsed.problems)
      if (parsed.help) {
        io.out(serverHelp())
        return 0
      }
      try {
        const { runServer } = await import('./bootstrap.ts')
        await runServer(parsed.config, adapter, env, io)
        return undefined
      } catch (e) {
        io.err(`coffer: cannot start: ${e instanceof Error ? e.message : String(e)}`)
        return 1
      }
    }
  }
}
