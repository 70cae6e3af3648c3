// CPU time of a process and all its descendants, read from /proc/<pid>/stat (Linux): utime + stime of every live
// process in the tree, plus cutime + cstime (the CPU of descendants that exited and were waited for, so a worker
// that is replaced mid-window is not lost). Resolution: one clock tick (10 ms with USER_HZ 100).
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

interface Stat {
  readonly pid: number;
  readonly ppid: number;
  /** utime + stime + cutime + cstime, in clock ticks. */
  readonly ticks: number;
}

const CLOCK_TICKS_PER_SECOND = (() => {
  try {
    const n = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    return Number.isFinite(n) && n > 0 ? n : 100;
  } catch {
    return 100;
  }
})();

function readStat(pid: number): Stat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined; // gone
  }
  // The command name (field 2) is in parentheses and may contain spaces: split after the last ')'.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state): ppid is field 4, utime..cstime are fields 14..17.
  const num = (field: number) => Number(fields[field - 3]);
  return { pid, ppid: num(4), ticks: num(14) + num(15) + num(16) + num(17) };
}

function allStats(): Stat[] {
  const stats: Stat[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readStat(Number(entry));
    if (stat) stats.push(stat);
  }
  return stats;
}

/** CPU milliseconds of each tree, by root pid (0 for a root that is gone). One scan of /proc for all roots. */
export function treeCpuMs(roots: readonly number[]): Map<number, number> {
  const stats = allStats();
  const children = new Map<number, Stat[]>();
  for (const s of stats) {
    const list = children.get(s.ppid);
    if (list) list.push(s);
    else children.set(s.ppid, [s]);
  }
  const byPid = new Map(stats.map((s) => [s.pid, s]));
  const result = new Map<number, number>();
  for (const root of roots) {
    let ticks = 0;
    const stack = byPid.has(root) ? [byPid.get(root)!] : [];
    const seen = new Set<number>();
    while (stack.length > 0) {
      const s = stack.pop()!;
      if (seen.has(s.pid)) continue;
      seen.add(s.pid);
      ticks += s.ticks;
      stack.push(...(children.get(s.pid) ?? []));
    }
    result.set(root, (ticks * 1000) / CLOCK_TICKS_PER_SECOND);
  }
  return result;
}
