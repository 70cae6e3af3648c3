// Sample completions for the health tests and bench: normal prose, code and tables (legitimately repetitive), and
// degenerate outputs. Pure data.
export const PROSE =
  'Envoy is a high performance proxy designed for service oriented architectures. It runs alongside every ' +
  'application and abstracts the network by providing common features in a platform-agnostic manner. When all ' +
  'service traffic in an infrastructure flows through an Envoy mesh, it becomes easy to visualize problem areas ' +
  'via consistent observability, tune overall performance, and add substrate features in a single place. The ' +
  'external processing filter lets a separate service inspect and modify headers and bodies, which is how this ' +
  'gateway validates requests, routes models to providers, and translates responses back to one format.';

export const CODE = [
  'Here is the function:',
  '```ts',
  'export function sum(values: number[]): number {',
  '  let total = 0;',
  '  for (const value of values) {',
  '    total += value;',
  '  }',
  '  return total;',
  '}',
  '',
  'export function mean(values: number[]): number {',
  '  if (values.length === 0) return 0;',
  '  return sum(values) / values.length;',
  '}',
  '',
  'const zeros = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];',
  'const ones = [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1];',
  'const twos = [2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2];',
  '```',
].join('\n');

export const TABLE = [
  'Results per region:',
  '',
  '| region | status | errors | latency |',
  '| --- | --- | --- | --- |',
  ...Array.from({ length: 24 }, (_, i) => `| eu-${i % 3} | ok | 0 | ${10 + (i % 4)} ms |`),
].join('\n');

export const LOOPED_SENTENCE = 'I am sorry, but I cannot help with that request. '.repeat(30);
export const LOOPED_WORD = 'the '.repeat(200);
export const LOOPED_TAIL = PROSE + ' ' + 'and then the model said and then the model said '.repeat(20);
/** Varied enough per line that a naive line-dedup would miss it, yet one phrase cycled. */
export const LOOPED_LIST = Array.from(
  { length: 40 },
  (_, i) => `${i + 1}. The answer is the answer is the answer.`,
).join('\n');

const VOCABULARY = (
  'gateway proxy model request response stream token budget route backend provider cluster endpoint weight priority ' +
  'health verdict score latency throughput retry failover timeout header body schema translation usage metric ' +
  'operator tenant limit window reservation ledger replica sidecar listener filter upstream downstream config reload ' +
  'measures handles rewrites publishes counts rejects forwards buffers streams validates resolves drains reserves ' +
  'quickly carefully often rarely safely strictly gradually twice again later first finally instead meanwhile ' +
  'large small slow fast stale fresh healthy degraded partial complete strict loose remote local shared private ' +
  'because although when while after before unless since whereas so'
).split(' ');

/** A long, ordinary answer of about `bytes` characters: seeded pseudo-random sentences (no template loops). */
export function longProse(bytes: number, seed = 42): string {
  let state = seed >>> 0;
  const rand = () => {
    state = (state * 1664525 + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
  const pick = () => VOCABULARY[Math.floor(rand() * VOCABULARY.length)] ?? 'gateway';
  let out = '';
  while (out.length < bytes) {
    const words = Array.from({ length: 8 + Math.floor(rand() * 12) }, pick);
    const sentence = words.join(' ');
    out += sentence.charAt(0).toUpperCase() + sentence.slice(1) + (rand() < 0.2 ? '.\n\n' : '. ');
  }
  return out.slice(0, bytes);
}
