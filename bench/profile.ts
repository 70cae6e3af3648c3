// Summarises a V8 .cpuprofile (as written by `npm run bench -- --profile` or `node --cpu-prof`): top functions by
// self time, and self time grouped by where the code lives (grpc-js, protobufjs, our src/, GC, …).
// Standalone: node dist/bench/profile.js <file.cpuprofile> [topN]
import { readFileSync } from 'node:fs';
import { isEntryPoint } from './entry.js';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
}
interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

export interface SelfTimeRow {
  readonly name: string;
  readonly location: string;
  readonly selfMs: number;
  readonly percent: number;
}

export interface ProfileSummary {
  readonly totalMs: number;
  /** Sampled time excluding (idle). */
  readonly busyMs: number;
  readonly top: SelfTimeRow[];
  readonly byArea: Array<{ area: string; selfMs: number; percent: number }>;
}

function shortLocation(frame: CallFrame): string {
  if (!frame.url) return '';
  let url = frame.url.replace(/^file:\/\//, '');
  const nm = url.lastIndexOf('/node_modules/');
  if (nm !== -1) url = url.slice(nm + '/node_modules/'.length);
  else {
    const dist = url.indexOf('/dist/');
    if (dist !== -1) url = url.slice(dist + '/dist/'.length);
  }
  return `${url}:${frame.lineNumber + 1}`;
}

function areaOf(frame: CallFrame): string {
  const { url, functionName } = frame;
  if (!url) {
    if (functionName === '(garbage collector)') return 'GC';
    if (functionName === '(idle)') return 'idle';
    if (functionName === '(program)') return 'V8/native (program)';
    return `native: ${functionName || '(anonymous)'}`;
  }
  if (url.startsWith('node:')) return 'node core (http2, net, streams, …)';
  const nm = url.lastIndexOf('/node_modules/');
  if (nm !== -1) {
    const rest = url.slice(nm + '/node_modules/'.length).split('/');
    return rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]!;
  }
  if (url.includes('/dist/src/')) return 'llm-extproc src/';
  if (url.includes('/dist/bench/')) return 'bench harness';
  return url;
}

export function summariseProfile(file: string, topN = 20): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  const selfUs = new Map<number, number>();
  // timeDeltas[i] is the time between sample i-1 and sample i: bill it to the sample that was running.
  for (let i = 0; i < samples.length; i++) {
    const duration = deltas[i + 1] ?? 0;
    selfUs.set(samples[i]!, (selfUs.get(samples[i]!) ?? 0) + Math.max(0, duration));
  }
  const byFunction = new Map<string, { name: string; location: string; us: number }>();
  const byArea = new Map<string, number>();
  let totalUs = 0;
  let idleUs = 0;
  for (const [id, us] of selfUs) {
    const frame = byId.get(id)?.callFrame;
    if (!frame) continue;
    totalUs += us;
    const area = areaOf(frame);
    if (area === 'idle') {
      idleUs += us;
      continue;
    }
    byArea.set(area, (byArea.get(area) ?? 0) + us);
    const location = shortLocation(frame);
    const name = frame.functionName || '(anonymous)';
    const key = `${name}@${location}`;
    const row = byFunction.get(key) ?? { name, location, us: 0 };
    row.us += us;
    byFunction.set(key, row);
  }
  const busyUs = totalUs - idleUs;
  const pct = (us: number) => (busyUs > 0 ? (100 * us) / busyUs : 0);
  return {
    totalMs: totalUs / 1000,
    busyMs: busyUs / 1000,
    top: [...byFunction.values()]
      .sort((a, b) => b.us - a.us)
      .slice(0, topN)
      .map((r) => ({ name: r.name, location: r.location, selfMs: r.us / 1000, percent: pct(r.us) })),
    byArea: [...byArea.entries()]
      .sort((a, b) => b[1] - a[1])
      .map(([area, us]) => ({ area, selfMs: us / 1000, percent: pct(us) })),
  };
}

export function formatSummary(title: string, summary: ProfileSummary): string {
  const lines = [
    `${title}: ${summary.busyMs.toFixed(0)} ms busy of ${summary.totalMs.toFixed(0)} ms sampled`,
    '  self time by area:',
  ];
  for (const a of summary.byArea.slice(0, 12)) lines.push(`    ${a.percent.toFixed(1).padStart(5)}%  ${a.area}`);
  lines.push('  top functions by self time:');
  for (const r of summary.top) lines.push(`    ${r.percent.toFixed(1).padStart(5)}%  ${r.name}  ${r.location}`);
  return lines.join('\n');
}

if (isEntryPoint(import.meta.url)) {
  const file = process.argv[2];
  if (!file) {
    console.error('usage: node dist/bench/profile.js <file.cpuprofile> [topN]');
    process.exit(2);
  }
  console.log(formatSummary(file, summariseProfile(file, Number(process.argv[3] ?? 25))));
}
