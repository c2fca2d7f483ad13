import { parseArgs, type ParseArgsConfig } from 'node:util';

/** Whether the command line asks for help (`-h` or `--help`). */
export const wantsHelp = (argv: readonly string[]): boolean => argv.includes('-h') || argv.includes('--help');

/**
 * The command-line conventions for scripts without a CLI runner: `-h`/`--help` prints `usage` on
 * stdout and exits 0; an unknown flag or a missing value prints the error and `usage` on stderr
 * and exits 2. Otherwise returns the parsed arguments (strict).
 */
export function parseCommandLine<C extends Omit<ParseArgsConfig, 'args' | 'strict'>>(usage: string, config: C, argv = process.argv.slice(2)): ReturnType<typeof parseArgs<C & { strict: true }>> {
  if (wantsHelp(argv)) {
    process.stdout.write(`${usage.trimEnd()}\n`);
    process.exit(0);
  }
  try {
    return parseArgs({ ...config, args: argv, strict: true as const }) as ReturnType<typeof parseArgs<C & { strict: true }>>;
  } catch (err) {
    process.stderr.write(`error E_USAGE: ${(err as Error).message}\n${usage.trimEnd()}\n`);
    process.exit(2);
  }
}
