/**
 * How every operator and auditor command ends: its main's exit code, or, when it throws, one line on stderr
 * (`<name>: <message>`, the usage after a UsageError) and an exit code chosen by the error's kind. No stack
 * traces for users; the exit code tells scripts what went wrong.
 */
export class UsageError extends Error {}

/** Runs `main` and sets the process's exit code (2 for bad usage unless `exitCodeOf` says otherwise). */
export function runCommand(name: string, usage: string, main: () => Promise<number>, exitCodeOf: (err: unknown) => number = () => 2): void {
  main().then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      // parseArgs's own refusals (an unknown option, a missing value) are bad usage too.
      const badUsage = err instanceof UsageError || String((err as { code?: unknown })?.code ?? '').startsWith('ERR_PARSE_ARGS');
      process.stderr.write(`${name}: ${err instanceof Error ? err.message : String(err)}\n`);
      if (badUsage) process.stderr.write(usage + '\n');
      process.exitCode = badUsage ? 2 : exitCodeOf(err);
    },
  );
}

/** The parseArgs options that say where a participant's record is (see cli/audit/inputs.ts). */
export const RECORD_SOURCE_OPTIONS = {
  participant: { type: 'string' },
  dir: { type: 'string' },
  database: { type: 'string' },
} as const;

export const HELP_OPTION = { help: { type: 'boolean', short: 'h', default: false } } as const;
