import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { tokensCommand, type CommandOutput } from './command.js';

async function run(args: string[], stdin: string): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const output: CommandOutput = { out: (text) => void (out += text), err: (text) => void (err += text) };
  const code = await tokensCommand(args, Readable.from([Buffer.from(stdin, 'utf8')]), output);
  return { code, out, err };
}

const BODY = JSON.stringify({
  model: 'gpt-4o',
  messages: [
    { role: 'system', content: 'You are a helpful assistant that can answer to questions about the weather.' },
    { role: 'user', content: "What's the weather like in San Francisco?" },
  ],
});

test('prints the count and that it is exact', async () => {
  const { code, out, err } = await run([], BODY);
  assert.equal(code, 0);
  assert.equal(err, '');
  assert.equal(out, '33 prompt tokens, exact (gpt-4o, o200k_base)\n');
});

test('--model overrides the request model; estimates say so', async () => {
  const cl100k = await run(['--model', 'gpt-4'], BODY);
  assert.match(cl100k.out, /^34 prompt tokens, exact \(gpt-4, cl100k_base\)/);
  const claude = await run(['--model', 'claude-sonnet-4-5'], BODY);
  assert.equal(claude.code, 0);
  assert.match(
    claude.out,
    /^33 prompt tokens, estimate \(claude-sonnet-4-5: no public tokenizer, family anthropic; o200k_base count 33 × factor 1\.00\)/,
  );
});

test('--json prints the whole count', async () => {
  const { code, out } = await run(['--json'], BODY);
  assert.equal(code, 0);
  const parsed = JSON.parse(out) as { tokens: number; kind: string; approximations: unknown[] };
  assert.equal(parsed.tokens, 33);
  assert.equal(parsed.kind, 'exact');
  assert.deepEqual(parsed.approximations, []);
});

test('approximated parts are named', async () => {
  const body = JSON.stringify({
    model: 'gpt-4o',
    messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'https://x/y.png' } }] }],
  });
  const { out } = await run([], body);
  assert.match(out, /exact tokenizer \(gpt-4o, o200k_base; approximated: image, image_size_unknown\)/);
});

test('an invalid request exits 1 with the validation message', async () => {
  const bad = await run([], '{"model":"gpt-4o"}');
  assert.equal(bad.code, 1);
  assert.match(bad.err, /invalid request: Missing required parameter: 'messages'/);
  const notJson = await run([], 'nope');
  assert.equal(notJson.code, 1);
  assert.match(notJson.err, /could not parse the JSON body/);
});

test('usage errors exit 2; --help exits 0', async () => {
  assert.equal((await run(['--bogus'], BODY)).code, 2);
  assert.equal((await run(['--model', ' '], BODY)).code, 2);
  const help = await run(['--help'], '');
  assert.equal(help.code, 0);
  assert.match(help.out, /usage: llm-extproc tokens/);
});
