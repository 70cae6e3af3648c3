// Preloaded into the llm-extproc service by bench/latency.ts (`node --import …/latency-probe.js`): event-loop delay
// and GC pauses of the service process, written as JSON to LATENCY_PROBE_FILE on SIGUSR2 (then reset), so the
// orchestrator can bracket each measured window. Not part of the service: a measuring instrument only.
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { setFlagsFromString } from 'node:v8';
import { monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';

// V8 flags NODE_OPTIONS refuses (e.g. --single-threaded-gc), set at run time: GC flags are read per collection.
if (process.env.LATENCY_PROBE_V8_FLAGS) setFlagsFromString(process.env.LATENCY_PROBE_V8_FLAGS);
const file = process.env.LATENCY_PROBE_FILE;
if (file) {
  const delay = monitorEventLoopDelay({ resolution: 1 });
  delay.enable();
  let pauses: number[] = [];
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) pauses.push(entry.duration);
  }).observe({ entryTypes: ['gc'] });
  const profileDir = process.env.LATENCY_PROBE_PROFILE;
  const session = new Session();
  let windows = 0;
  if (profileDir) {
    session.connect();
    session.post('Profiler.enable');
    session.post('Profiler.setSamplingInterval', { interval: 100 });
  }
  process.on('SIGUSR2', () => {
    const sorted = [...pauses].sort((a, b) => a - b);
    const ms = (ns: number) => ns / 1e6;
    writeFileSync(
      file,
      JSON.stringify({
        loopDelayMs: {
          p50: ms(delay.percentile(50)),
          p99: ms(delay.percentile(99)),
          max: ms(delay.max),
          mean: ms(delay.mean),
        },
        gc: {
          count: sorted.length,
          totalMs: sorted.reduce((a, b) => a + b, 0),
          maxMs: sorted.at(-1) ?? 0,
          over5ms: sorted.filter((d) => d > 5).length,
        },
      }),
    );
    delay.reset();
    pauses = [];
    if (profileDir) {
      // Each window's CPU profile: stop the one running (if any), write it, start the next.
      session.post('Profiler.stop', (err, result) => {
        if (!err && result)
          writeFileSync(`${profileDir}/window-${++windows}.cpuprofile`, JSON.stringify(result.profile));
        session.post('Profiler.start');
      });
    }
  });
}
