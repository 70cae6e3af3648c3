// The compact rank table: what it answers for whole strings and for ranges of them, and what a malformed
// .tiktoken text makes it say. bpe-count.test.ts compares the shipped tables with tiktoken's, entry for entry.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RankTable } from './rank-table.js';

const b64 = (text: string) => Buffer.from(text, 'latin1').toString('base64');
const file = (entries: ReadonlyArray<readonly [string, number]>) =>
  entries.map(([bytes, rank]) => `${b64(bytes)} ${rank}`).join('\n');

const ENTRIES: ReadonlyArray<readonly [string, number]> = [
  ['a', 0],
  ['b', 1],
  ['ab', 2],
  ['abc', 3],
  ['\u00ff\u0000', 4], // any byte, NUL and 0xff included
  ['hello world', 17], // ranks need not be dense
];

test('a parsed table answers the rank of every token and nothing else', () => {
  const table = RankTable.parse(file(ENTRIES));
  assert.equal(table.size, ENTRIES.length);
  for (const [bytes, rank] of ENTRIES) assert.equal(table.rankOf(bytes), rank, JSON.stringify(bytes));
  for (const missing of ['', 'c', 'ba', 'abcd', '\u00ff', 'hello']) assert.equal(table.rankOf(missing), undefined);
  assert.deepEqual([...table.entries()], ENTRIES);
});

test('a range of a string is looked up without slicing it: the same answers as the slice', () => {
  const table = RankTable.parse(file(ENTRIES));
  const text = 'xxabcyy';
  for (let start = 0; start <= text.length; start++)
    for (let end = start; end <= text.length; end++)
      assert.equal(table.rankOf(text, start, end), table.rankOf(text.slice(start, end)), `${start}..${end}`);
  assert.equal(table.rankOf(text, 2, 5), 3);
});

test('a malformed file is an error that says where, never a partial table', () => {
  const cases: ReadonlyArray<readonly [string, string, RegExp]> = [
    ['no space', 'YQ==0', /malformed line at byte 0/],
    ['bad base64 character', `${b64('a')} 0\nY*== 1`, /bad base64 at byte/],
    ['base64 of a wrong length', 'YWJ 0', /bad base64 at byte 0/],
    ['padding inside', 'Y=Q= 0', /bad base64 at byte 1/],
    ['too much padding', 'Y=== 0', /bad base64 at byte 0/],
    ['rank not a number', 'YQ== x1', /bad rank at byte 5/],
    ['no rank', 'YQ== ', /missing rank at byte 5/],
    ['the same token twice', `${b64('a')} 0\n${b64('a')} 1`, /duplicate token at rank 1/],
  ];
  for (const [name, text, message] of cases) assert.throws(() => RankTable.parse(text), message, name);
});
