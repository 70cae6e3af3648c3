import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { repetitionScore } from './repetition.js';
import { CODE, LOOPED_LIST, LOOPED_SENTENCE, LOOPED_TAIL, LOOPED_WORD, PROSE, TABLE, longProse } from './fixtures.js';

const THRESHOLD = 0.6; // the default health.repetition.threshold

describe('repetition score', () => {
  const cases: Array<{ name: string; text: string; degenerate: boolean }> = [
    { name: 'prose', text: PROSE, degenerate: false },
    { name: '10 KB of varied prose', text: longProse(10_000), degenerate: false },
    { name: 'code with repeated array literals', text: CODE, degenerate: false },
    { name: 'markdown table with repeated cells', text: TABLE, degenerate: false },
    { name: 'a short answer that repeats ("yes yes yes")', text: 'yes yes yes yes yes', degenerate: false },
    { name: 'one sentence looped', text: LOOPED_SENTENCE, degenerate: true },
    { name: 'one word looped', text: LOOPED_WORD, degenerate: true },
    { name: 'good start, looping tail', text: LOOPED_TAIL, degenerate: true },
    { name: 'numbered list of one phrase', text: LOOPED_LIST, degenerate: true },
  ];
  for (const c of cases) {
    test(`${c.degenerate ? 'flags' : 'passes'} ${c.name}`, () => {
      const r = repetitionScore(c.text);
      assert.equal(r.score > THRESHOLD, c.degenerate, JSON.stringify(r));
    });
  }
  test('texts below minChars score 0', () => {
    assert.equal(repetitionScore('ha '.repeat(50), 200).score, 0);
  });
});
