// Node flags the service runs with, wherever it is started: the `llm-extproc` bin (its shebang), `npm start`, the
// Dockerfile, and the worker processes (src/workers/primary.ts). node-flags.test.ts holds the first three to this list.
//
// --max-semi-space-size=8: V8's young generation (two semi-spaces) defaults to 16 MB each on 64-bit Node 20. Under
// load every ext_proc message allocates short-lived objects, so both fill and stay resident. 8 MB took the service's
// RSS at c=64 from 180–199 MB to 146–157 MB with no measurable CPU cost; 2 and 4 MB promoted more to the old space
// and ended at ~172 MB (docs/benchmarks.md, "Issue 12 targets"). A start-up flag: V8 sizes the heap before any code
// runs. The shebang passes it with `env -S` (GNU coreutils ≥ 8.30, the BSDs and macOS; the image's ENTRYPOINT does
// not rely on it).
export const SERVICE_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=8'];

/** execArgv for a child process of the service: ours added, unless the operator chose a value of their own. */
export function withServiceNodeFlags(execArgv: readonly string[], nodeOptions: string = ''): string[] {
  const given = [...execArgv, ...nodeOptions.split(/\s+/)];
  const missing = SERVICE_NODE_FLAGS.filter((flag) => {
    const name = flag.split('=')[0]!;
    return !given.some((arg) => arg === name || arg.startsWith(`${name}=`));
  });
  return [...execArgv, ...missing];
}
