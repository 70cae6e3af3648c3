// The candidate libraries as published, against the oracle tiktoken (WASM). This file deliberately does not load
// backend.ts, so gpt-tokenizer runs unpatched here. Both pure-JS libraries are exact on text without U+FEFF, U+0085
// and Unicode 17 letters; with those both diverge (see backend.ts), which the last test reports as a diagnostic
// rather than asserting, so an upgrade that fixes it does not fail the suite.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { get_encoding } from 'tiktoken';
import { Tiktoken as JsTiktoken } from 'js-tiktoken/lite';
import jsO200k from 'js-tiktoken/ranks/o200k_base';
import jsCl100k from 'js-tiktoken/ranks/cl100k_base';
import * as gptO200k from 'gpt-tokenizer/encoding/o200k_base';
import * as gptCl100k from 'gpt-tokenizer/encoding/cl100k_base';
import { randomText, TRICKY_STRINGS } from './testing/random-text.js';
import { UNICODE_17_LMN } from './unicode.js';

const ORDINARY = { disallowedSpecial: new Set<string>() };
const DIVERGENT = new RegExp(`[\\uFEFF\\u0085${UNICODE_17_LMN}]`, 'v');

const CANDIDATES = (['o200k_base', 'cl100k_base'] as const).map((encoding) => {
  const oracle = get_encoding(encoding);
  const js = new JsTiktoken(encoding === 'o200k_base' ? jsO200k : jsCl100k);
  const gpt = encoding === 'o200k_base' ? gptO200k : gptCl100k;
  return {
    encoding,
    oracle: (text: string) => oracle.encode_ordinary(text).length,
    libraries: {
      'js-tiktoken': (text: string) => js.encode(text, [], []).length,
      'gpt-tokenizer': (text: string) => gpt.countTokens(text, ORDINARY),
    },
  };
});

for (const { encoding, oracle, libraries } of CANDIDATES) {
  for (const [name, count] of Object.entries(libraries)) {
    test(`${name} ${encoding}: exact on 2000 seeded random strings without U+FEFF, U+0085, Unicode 17 letters`, () => {
      for (let seed = 1; seed <= 2000; seed++) {
        const text = randomText(seed, { maxFragments: 16 });
        if (!DIVERGENT.test(text)) assert.equal(count(text), oracle(text), `seed ${seed}: ${JSON.stringify(text)}`);
      }
    });

    test(`${name} ${encoding}: exact on the tricky strings without U+FEFF, U+0085, Unicode 17 letters`, () => {
      for (const text of TRICKY_STRINGS.filter((t) => !DIVERGENT.test(t)))
        assert.equal(count(text), oracle(text), JSON.stringify(text));
    });
  }

  test(`${encoding}: divergences with U+FEFF, U+0085, Unicode 17 letters (diagnostic)`, (t) => {
    const divergent = [
      ...TRICKY_STRINGS.filter((s) => DIVERGENT.test(s)),
      ...Array.from({ length: 1000 }, (_, i) => randomText(10_000 + i, { divergentWhitespace: true })).filter((s) =>
        DIVERGENT.test(s),
      ),
      ...Array.from(
        { length: 300 },
        (_, i) => `${String.fromCodePoint(0x323b0 + i)}'x ${String.fromCodePoint(0x18d80 + (i % 100))}'s`,
      ),
    ];
    for (const [name, count] of Object.entries(libraries)) {
      const wrong = divergent.filter((text) => count(text) !== oracle(text)).length;
      t.diagnostic(
        `${name}: ${wrong} of ${divergent.length} strings containing U+FEFF, U+0085 or a Unicode 17 letter counted differently from tiktoken`,
      );
    }
  });
}
