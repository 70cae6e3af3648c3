// `llm-extproc translate` for every provider in the registry: whatever is registered must translate a request, a
// whole response, a stream and an error, and no credential may appear in what the command prints.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable, Writable } from 'node:stream';
import { SAMPLE_REQUEST, SAMPLE_TEXT, TRANSLATION_SAMPLES } from '../../bench/translate.js';
import { PROVIDER_KINDS } from '../providers/apis.js';
import { translateCommand } from './translate.js';

interface Run {
  readonly code: number;
  readonly stdout: Buffer;
  readonly stderr: string;
}

function sink(into: Buffer[]): Writable {
  return new Writable({
    write(chunk: Buffer | string, _encoding, done) {
      into.push(Buffer.from(chunk));
      done();
    },
  });
}

async function run(args: string[], input: Buffer | string = ''): Promise<Run> {
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  const code = await translateCommand(args, Readable.from([Buffer.from(input)]), sink(out), sink(err));
  return { code, stdout: Buffer.concat(out), stderr: Buffer.concat(err).toString() };
}

/** Unified SSE → its data payloads (JSON or the [DONE] marker). */
function sseData(text: string): unknown[] {
  return text
    .split(/\r?\n\r?\n/)
    .filter((e) => e.trim() !== '')
    .map((event) => {
      const data = event
        .split(/\r?\n/)
        .filter((line) => line.startsWith('data:'))
        .map((line) => line.slice(5).trimStart())
        .join('\n');
      return data === '[DONE]' ? '[DONE]' : JSON.parse(data);
    });
}

const kinds = PROVIDER_KINDS;
const NO_SECRET = /dummy-credential/;

test('the registry is iterated: every implemented provider is covered', () => {
  assert.ok(kinds.length >= 4, `only ${kinds.join(', ')}`);
  for (const kind of ['openai', 'openai-compatible', 'azure-openai', 'cohere'] as const)
    assert.ok(kinds.includes(kind), kind);
});

for (const kind of kinds) {
  test(`${kind}: a unified request becomes the provider's body; credentials are redacted`, async () => {
    const result = await run(
      ['--provider', kind, '--direction', 'request', '--model', 'upstream-model'],
      JSON.stringify(SAMPLE_REQUEST),
    );
    assert.equal(result.code, 0, result.stderr);
    assert.ok(result.stdout.length > 0);
    assert.match(result.stderr, /^POST \/\S*/);
    assert.doesNotMatch(result.stderr, NO_SECRET);
    assert.doesNotMatch(result.stdout.toString(), NO_SECRET);
    for (const line of result.stderr.split('\n')) {
      const [name] = line.split(': ');
      if (name && ['authorization', 'api-key', 'x-api-key', 'x-goog-api-key', 'x-amz-security-token'].includes(name)) {
        assert.equal(line, `${name}: [redacted]`);
      }
    }
  });

  test(`${kind}: a whole response becomes a chat.completion`, async () => {
    const result = await run(['--provider', kind, '--direction', 'response'], TRANSLATION_SAMPLES[kind].whole);
    assert.equal(result.code, 0, result.stderr);
    const completion = JSON.parse(result.stdout.toString());
    assert.equal(completion.object, 'chat.completion');
    assert.equal(completion.choices[0].message.content, SAMPLE_TEXT);
    assert.equal(completion.choices[0].finish_reason, 'stop');
    assert.match(result.stderr, /usage: prompt=412 /);
  });

  test(`${kind}: a stream becomes unified SSE ending in [DONE], usage chunk included when asked for`, async () => {
    const input = Buffer.concat(TRANSLATION_SAMPLES[kind].streamEvents);
    const result = await run(['--provider', kind, '--direction', 'response', '--stream', '--include-usage'], input);
    assert.equal(result.code, 0, result.stderr);
    const events = sseData(result.stdout.toString());
    assert.equal(events.at(-1), '[DONE]');
    const chunks = events.slice(0, -1) as Array<{
      object: string;
      choices: Array<{ delta: { content?: string | null }; finish_reason: string | null }>;
      usage?: { prompt_tokens: number } | null;
    }>;
    assert.ok(chunks.every((c) => c.object === 'chat.completion.chunk'));
    assert.equal(chunks.map((c) => c.choices[0]?.delta.content ?? '').join(''), SAMPLE_TEXT);
    assert.equal(
      chunks
        .flatMap((c) => c.choices.map((ch) => ch.finish_reason))
        .filter(Boolean)
        .join(),
      'stop',
    );
    assert.deepEqual(chunks.at(-1)?.choices, []);
    assert.equal(chunks.at(-1)?.usage?.prompt_tokens, 412);
  });

  test(`${kind}: an upstream error becomes an OpenAI error`, async () => {
    const result = await run(
      ['--provider', kind, '--direction', 'response', '--status', '503'],
      'upstream connect error or disconnect/reset before headers',
    );
    assert.equal(result.code, 0, result.stderr);
    const body = JSON.parse(result.stdout.toString());
    assert.equal(typeof body.error.message, 'string');
    assert.equal(typeof body.error.type, 'string');
    assert.ok('param' in body.error && 'code' in body.error);
  });
}

test('cohere: the exact native body, with the path on stderr', async () => {
  const result = await run(
    ['--provider', 'cohere', '--direction', 'request', '--model', 'command-a-03-2025', '--stream'],
    JSON.stringify({ model: 'alias', top_p: 0.5, messages: [{ role: 'user', content: 'hi' }] }),
  );
  assert.equal(result.code, 0, result.stderr);
  assert.deepEqual(JSON.parse(result.stdout.toString()), {
    model: 'command-a-03-2025',
    messages: [{ role: 'user', content: 'hi' }],
    stream: true,
    p: 0.5,
  });
  assert.equal(result.stderr, 'POST /v2/chat\ncontent-type: application/json\nauthorization: [redacted]\n');
});

test('--config/--backend use the configured backend, never reading its real credentials', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'translate-'));
  const file = path.join(dir, 'config.yaml');
  writeFileSync(
    file,
    `backends:
  - { name: az, provider: azure-openai, baseUrl: "https://res.openai.azure.com", deployment: prod, apiVersion: 2025-01-01, apiKeyEnv: AZ_KEY_THAT_IS_SET }
  - { name: vx, provider: vertex, project: p1, location: europe-west4, accessTokenFile: "${path.join(dir, 'no-such-token')}" }
`,
  );
  process.env.AZ_KEY_THAT_IS_SET = 'real-secret-value';
  t.after(() => {
    delete process.env.AZ_KEY_THAT_IS_SET;
  });
  const az = await run(['--config', file, '--backend', 'az', '--direction', 'request'], JSON.stringify(SAMPLE_REQUEST));
  assert.equal(az.code, 0, az.stderr);
  assert.equal(
    az.stderr,
    'POST /openai/deployments/prod/chat/completions?api-version=2025-01-01\ncontent-type: application/json\napi-key: [redacted]\n',
  );
  assert.doesNotMatch(az.stderr + az.stdout.toString(), /real-secret-value/);
  if (kinds.includes('vertex')) {
    const vx = await run(
      ['--config', file, '--backend', 'vx', '--direction', 'request', '--model', 'gemini-2.5-flash'],
      JSON.stringify(SAMPLE_REQUEST),
    );
    assert.equal(vx.code, 0, vx.stderr);
    assert.match(vx.stderr, /europe-west4/);
  }
  const mismatch = await run(
    ['--config', file, '--backend', 'az', '--provider', 'cohere', '--direction', 'request'],
    '{}',
  );
  assert.equal(mismatch.code, 2);
});

test('a request the provider cannot honour exits 1 with the error the client would get', async () => {
  const result = await run(
    ['--provider', 'cohere', '--direction', 'request'],
    JSON.stringify({ model: 'm', n: 3, messages: [{ role: 'user', content: 'x' }] }),
  );
  assert.equal(result.code, 1);
  assert.match(result.stderr, /^400 \{"error":\{.*"param":"n"/);
  const invalid = await run(['--provider', 'openai', '--direction', 'request'], '{"model":');
  assert.equal(invalid.code, 1);
  assert.match(invalid.stderr, /invalid_json/);
});

test('usage mistakes exit 2 with the usage text', async () => {
  for (const args of [
    [],
    ['--provider', 'cohere'],
    ['--provider', 'nope', '--direction', 'request'],
    ['--direction', 'request'],
    ['--provider', 'cohere', '--direction', 'response', '--status', 'x'],
    ['--bogus'],
  ]) {
    const result = await run(args);
    assert.equal(result.code, 2, args.join(' '));
    assert.match(result.stderr, /usage:/);
  }
  const help = await run(['--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout.toString(), /--direction request\|response/);
});

test('a non-2xx response status is reported when the translation changes it', async () => {
  const result = await run(
    ['--provider', 'cohere', '--direction', 'response', '--status', '498'],
    '{"message":"invalid api token"}',
  );
  assert.equal(result.code, 0);
  assert.match(result.stderr, /status: 498 → 401/);
});

test('--request gives the response the client request it answers (model alias, stream options)', async () => {
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'translate-')), 'request.json');
  writeFileSync(file, JSON.stringify({ model: 'my-alias', messages: [{ role: 'user', content: 'hi' }] }));
  const result = await run(
    ['--provider', 'cohere', '--direction', 'response', '--request', file],
    TRANSLATION_SAMPLES.cohere.whole,
  );
  assert.equal(result.code, 0, result.stderr);
  assert.equal(JSON.parse(result.stdout.toString()).model, 'my-alias');
  const missing = await run(
    ['--provider', 'cohere', '--direction', 'response', '--request', path.join(tmpdir(), 'no-such-request.json')],
    '{}',
  );
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /cannot read --request/);
});
