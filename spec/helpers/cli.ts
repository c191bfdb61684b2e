/** The command line run in process, its output captured (the CLI specs' runner). */
import { runCli } from '../../lib/server/cli';

/** What one CLI run printed, and its exit code. */
export interface CliRun {
  readonly code: number;
  readonly out: string;
  readonly err: string;
}

/** Runs `express-token-kit <argv>` with `env`, capturing stdout and stderr (lines joined by `\n`). */
export async function cli(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<CliRun> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(argv, env, { stdout: (l) => out.push(l), stderr: (l) => err.push(l) });
  return { code, out: out.join('\n'), err: err.join('\n') };
}
