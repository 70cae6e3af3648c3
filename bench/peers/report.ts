// The peers bench's results: medians across rounds per (path, cell), the markdown table and the verdicts against
// the targets. Pure functions over the measurements.
import { median } from '../stats.js';
import type { Cell, Payload } from './settings.js';
import { BASELINE, PATH_LABELS, ROLES, type PathId, type Role } from './targets.js';

export interface Measurement {
  readonly round: number;
  readonly path: PathId;
  readonly payload: Payload;
  readonly concurrency: number;
  readonly requests: number;
  readonly errors: number;
  readonly firstError: string | undefined;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly requestsPerSecond: number;
  /** CPU ms per successful request of each process (tree) on the path. */
  readonly cpuMsPerRequest: Partial<Record<Role, number>>;
  /** The load generator's CPU ms per request (not part of any total). */
  readonly clientCpuMsPerRequest: number;
}

export interface Row {
  readonly path: PathId;
  readonly payload: Payload;
  readonly concurrency: number;
  readonly rounds: number;
  readonly requestsPerRound: number;
  readonly errors: number;
  readonly firstError: string | undefined;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly addedP50Ms: number | undefined;
  readonly addedP99Ms: number | undefined;
  readonly requestsPerSecond: number;
  readonly cpuMsPerRequest: Partial<Record<Role, number>>;
  /** Gateway CPU per request: every process on the path but the mock (Envoy + llm-extproc, or the peer). */
  readonly gatewayCpuMs: number;
  /** Every process on the path, the mock included. */
  readonly allCpuMs: number;
  readonly clientCpuMs: number;
}

/** A path that could not be measured, with the exact error. */
export interface Failure {
  readonly path: PathId;
  readonly error: string;
}

function sum(values: Iterable<number>): number {
  let total = 0;
  for (const v of values) total += v;
  return total;
}

export function summarise(
  measurements: readonly Measurement[],
  cells: readonly Cell[],
  paths: readonly PathId[],
): Row[] {
  const rows: Row[] = [];
  const base = new Map<string, { p50: number; p99: number }>();
  const key = (path: PathId, cell: Cell) => `${path}/${cell.payload}/${cell.concurrency}`;
  const pending: Array<Omit<Row, 'addedP50Ms' | 'addedP99Ms'>> = [];
  for (const cell of cells) {
    for (const path of paths) {
      const runs = measurements.filter(
        (m) => m.path === path && m.payload === cell.payload && m.concurrency === cell.concurrency,
      );
      if (runs.length === 0) continue;
      const m = (pick: (r: Measurement) => number) => median(runs.map(pick));
      const cpu: Partial<Record<Role, number>> = {};
      for (const role of ROLES)
        if (runs.some((r) => r.cpuMsPerRequest[role] !== undefined)) cpu[role] = m((r) => r.cpuMsPerRequest[role] ?? 0);
      const row = {
        path,
        payload: cell.payload,
        concurrency: cell.concurrency,
        rounds: runs.length,
        requestsPerRound: m((r) => r.requests),
        errors: sum(runs.map((r) => r.errors)),
        firstError: runs.find((r) => r.firstError !== undefined)?.firstError,
        p50Ms: m((r) => r.p50Ms),
        p99Ms: m((r) => r.p99Ms),
        requestsPerSecond: m((r) => r.requestsPerSecond),
        cpuMsPerRequest: cpu,
        gatewayCpuMs: sum(ROLES.filter((r) => r !== 'mock').map((r) => cpu[r] ?? 0)),
        allCpuMs: sum(ROLES.map((r) => cpu[r] ?? 0)),
        clientCpuMs: m((r) => r.clientCpuMsPerRequest),
      };
      pending.push(row);
      base.set(key(path, cell), { p50: row.p50Ms, p99: row.p99Ms });
    }
  }
  for (const row of pending) {
    const baseline = base.get(key(BASELINE[row.path], row));
    rows.push({
      ...row,
      addedP50Ms: baseline ? row.p50Ms - baseline.p50 : undefined,
      addedP99Ms: baseline ? row.p99Ms - baseline.p99 : undefined,
    });
  }
  return rows;
}

const ms = (v: number | undefined, digits = 2) => (v === undefined || Number.isNaN(v) ? '—' : v.toFixed(digits));
const signed = (v: number | undefined) =>
  v === undefined || Number.isNaN(v) ? '—' : `${v >= 0 ? '+' : ''}${v.toFixed(2)}`;
const cpuCell = (v: number | undefined) => (v === undefined ? '' : v.toFixed(3));

export function markdownTable(rows: readonly Row[], failures: readonly Failure[], cells: readonly Cell[]): string {
  const header =
    '| path | payload | c | req/round | p50 ms | p99 ms | added p50 | added p99 | CPU mock | CPU Envoy | CPU llm-extproc | CPU peer | CPU gateway | CPU all | errors |';
  const lines = [header, '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|'];
  for (const cell of cells) {
    for (const row of rows.filter((r) => r.payload === cell.payload && r.concurrency === cell.concurrency)) {
      const cpu = row.cpuMsPerRequest;
      lines.push(
        `| ${PATH_LABELS[row.path]} | ${row.payload.toUpperCase()} | ${row.concurrency} | ${row.requestsPerRound.toFixed(0)} | ${ms(row.p50Ms)} | ${ms(row.p99Ms)} | ` +
          `${row.path === BASELINE[row.path] ? '' : signed(row.addedP50Ms)} | ${row.path === BASELINE[row.path] ? '' : signed(row.addedP99Ms)} | ` +
          `${cpuCell(cpu.mock)} | ${cpuCell(cpu.envoy)} | ${cpuCell(cpu.extproc)} | ${cpuCell(cpu.peer)} | ${row.gatewayCpuMs > 0 ? row.gatewayCpuMs.toFixed(3) : ''} | ${row.allCpuMs.toFixed(3)} | ${row.errors} |`,
      );
    }
  }
  for (const f of failures)
    lines.push(
      `| ${PATH_LABELS[f.path]} | — | — | — | not measured: ${f.error.split('\n')[0]!.replaceAll('|', '\\|')} |||||||||||`,
    );
  return lines.join('\n');
}

/** The row, unless more than 1 % of its requests failed (then its numbers describe a broken path). */
function find(rows: readonly Row[], path: PathId, payload: Payload, concurrency: number): Row | undefined {
  const row = rows.find((r) => r.path === path && r.payload === payload && r.concurrency === concurrency);
  return row && row.errors <= 0.01 * row.requestsPerRound * row.rounds ? row : undefined;
}

export interface Verdict {
  readonly text: string;
  readonly pass: boolean | undefined;
}

const verdictWord = (pass: boolean | undefined) => (pass === undefined ? 'N/A ' : pass ? 'PASS' : 'FAIL');

/** The targets: added latency over Envoy alone at c=1 JSON; CPU per request against the peers at c=32. */
export function verdicts(rows: readonly Row[], highConcurrency: number): Verdict[] {
  const out: Verdict[] = [];
  const envoy = find(rows, 'envoy', 'json', 1);
  for (const path of ['extproc', 'extproc-anthropic'] as const) {
    const ours = find(rows, path, 'json', 1);
    const label = path === 'extproc' ? 'llm-extproc passthrough' : 'llm-extproc anthropic (translated)';
    if (!ours || !envoy) {
      out.push({
        text: `N/A  ${label}: added latency over Envoy alone at c=1 JSON: not measured (row missing, or > 1 % of its requests failed)`,
        pass: undefined,
      });
      continue;
    }
    const d50 = ours.p50Ms - envoy.p50Ms;
    const d99 = ours.p99Ms - envoy.p99Ms;
    out.push({
      text: `${verdictWord(d50 <= 1)} ${label}: added p50 over Envoy alone at c=1 JSON ${d50.toFixed(2)} ms (target ≤ 1 ms)`,
      pass: d50 <= 1,
    });
    out.push({
      text: `${verdictWord(d99 <= 3)} ${label}: added p99 over Envoy alone at c=1 JSON ${d99.toFixed(2)} ms (target ≤ 3 ms)`,
      pass: d99 <= 3,
    });
  }
  for (const payload of ['json', 'sse'] as const) {
    const ours = find(rows, 'extproc', payload, highConcurrency);
    for (const [peer, factor] of [
      ['portkey', 0.5],
      ['litellm', 0.25],
    ] as const) {
      const theirs = find(rows, peer, payload, highConcurrency);
      const name = peer === 'portkey' ? 'Portkey' : 'LiteLLM';
      const what = `Envoy + llm-extproc CPU/request vs ${name} at c=${highConcurrency} ${payload.toUpperCase()}`;
      if (!ours || !theirs) {
        out.push({
          text: `N/A  ${what}: not measured (row missing, or > 1 % of its requests failed)`,
          pass: undefined,
        });
        continue;
      }
      const ratio = ours.gatewayCpuMs / theirs.gatewayCpuMs;
      out.push({
        text: `${verdictWord(ratio <= factor)} ${what}: ${ours.gatewayCpuMs.toFixed(3)} / ${theirs.gatewayCpuMs.toFixed(3)} ms = ${ratio.toFixed(2)}× (target ≤ ${factor}×)`,
        pass: ratio <= factor,
      });
    }
  }
  // For information: the translated provider (the peers were run as passthroughs), and 2 workers + 2 Envoy threads.
  for (const [path, label] of [
    ['extproc-anthropic', 'llm-extproc anthropic (translated)'],
    ['extproc-2w', 'llm-extproc, 2 workers + 2 Envoy threads,'],
  ] as const)
    for (const payload of ['json', 'sse'] as const) {
      const ours = find(rows, path, payload, highConcurrency);
      const parts: string[] = [];
      for (const peer of ['portkey', 'litellm'] as const) {
        const theirs = find(rows, peer, payload, highConcurrency);
        if (ours && theirs)
          parts.push(
            `${(ours.gatewayCpuMs / theirs.gatewayCpuMs).toFixed(2)}× ${peer === 'portkey' ? 'Portkey' : 'LiteLLM'}`,
          );
      }
      if (ours && parts.length > 0)
        out.push({
          text: `info ${label} CPU/request at c=${highConcurrency} ${payload.toUpperCase()}: ${ours.gatewayCpuMs.toFixed(3)} ms = ${parts.join(', ')}${path === 'extproc-anthropic' ? ' (peers as passthroughs)' : ''}`,
          pass: undefined,
        });
    }
  return out;
}
