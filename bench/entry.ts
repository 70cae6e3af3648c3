// Whether a benchmark module was started as a script (`node dist/bench/x.js`) rather than imported (by another
// benchmark or a test).
import path from 'node:path';
import { pathToFileURL } from 'node:url';

export function isEntryPoint(moduleUrl: string): boolean {
  return process.argv[1] !== undefined && moduleUrl === pathToFileURL(path.resolve(process.argv[1])).href;
}

/** Runs `main` when the module was started as a script; a failure is printed and sets a non-zero exit code. */
export function runIfEntryPoint(moduleUrl: string, name: string, main: () => Promise<void>): void {
  if (!isEntryPoint(moduleUrl)) return;
  main().catch((err: unknown) => {
    process.stderr.write(`${name}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  });
}
