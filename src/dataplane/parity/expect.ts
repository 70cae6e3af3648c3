// Parity assertions: "the stand-in and Envoy agree" (after normalisation) and "both got the expected outcome".
import assert from 'node:assert/strict';
import { differences, normalise, VIAS, type Observation, type Via } from './harness.js';

export type Pair = Record<Via, Observation>;

export interface AgreeOptions {
  /**
   * Also compare how each processor stream ended on the wire (normalised). Default false: the stand-in's streams
   * always end END_STREAM then RST_STREAM (node's http2 API cannot send a bare RST_STREAM), which
   * stream-order.test.ts pins separately against Envoy's.
   */
  readonly wire?: boolean;
  /** Difference paths (prefix match, e.g. "log.attempts") that are known and asserted separately. */
  readonly except?: readonly string[];
}

/** Differences between the two observations after normalisation (and the options' exceptions). */
export function disagreements(pair: Pair, options: AgreeOptions = {}): string[] {
  return differences(normalise(pair['stand-in']), normalise(pair.envoy)).filter((d) => {
    const at = d.slice(0, d.indexOf(':'));
    if (options.wire !== true && /\.wire(\[|$)/.test(at)) return false;
    return !(options.except ?? []).some((prefix) => at.startsWith(prefix));
  });
}

/** The stand-in and Envoy agree on everything observed (client, processor, upstream, access log). */
export function assertAgree(pair: Pair, options: AgreeOptions = {}): void {
  const diff = disagreements(pair, options);
  assert.deepEqual(diff, [], `stand-in ≠ Envoy 1.40:\n  ${diff.join('\n  ')}`);
}

/** Runs the same assertions on both observations (labelled by data plane on failure). */
export function forBoth(pair: Pair, check: (o: Observation) => void): void {
  for (const via of VIAS) {
    try {
      check(pair[via]);
    } catch (error) {
      if (error instanceof Error) error.message = `[${via}] ${error.message}`;
      throw error;
    }
  }
}

/** No script threw (an assertion inside a processor script shows up here). */
export function assertScriptsClean(pair: Pair): void {
  forBoth(pair, (o) => assert.deepEqual(o.scriptErrors, []));
}

/** Message kinds of each processor stream, "stage: kind kind …". */
export function kinds(o: Observation): string[] {
  return o.extproc.map(
    (s) => `${s.stage}: ${s.messages.map((m) => m.kind + (m.endOfStream === true ? '*' : '')).join(' ')}`,
  );
}
