// The CLI as users run it: a child process, real signals, real files.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';

const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const tmp = () => mkdtempSync(path.join(tmpdir(), 'llm-extproc-cli-'));

function run(...args: string[]) {
  return spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 30_000 });
}

test('validate accepts a good config and exits 0', () => {
  const file = path.join(tmp(), 'ok.yaml');
  writeFileSync(file, 'routes: []\n');
  const result = run('validate', '--config', file);
  assert.equal(result.status, 0, result.stderr);
  assert.match(result.stdout, /ok \(0 backends, 0 routes\)/);
});

test('validate rejects a bad config with file:line:col messages and exit 1', () => {
  const file = path.join(tmp(), 'bad.yaml');
  writeFileSync(file, 'backends:\n  - name: x\n    provider: claude-direct\n    baseUrl: https://x.example\n');
  const result = run('validate', '--config', file);
  assert.equal(result.status, 1);
  assert.match(
    result.stderr,
    new RegExp(`${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:3:15: backends\\[0\\]\\.provider: `),
  );
});

test('an unknown command prints usage and exits 2', () => {
  const result = run('frobnicate');
  assert.equal(result.status, 2);
  assert.match(result.stderr, /usage:/);
});

test('start serves on the configured ports, answers 503 for a backend without a key, reloads on SIGHUP and stops on SIGTERM', async () => {
  const file = path.join(tmp(), 'config.yaml');
  const config = (model: string) => `
extproc: { address: 127.0.0.1:0 }
admin: { address: 127.0.0.1:0 }
dataPlane: { address: 127.0.0.1:0 }
backends:
  - { name: openai, provider: openai, baseUrl: "https://api.openai.com/v1", apiKeyEnv: LLM_EXTPROC_TEST_UNSET_KEY }
routes:
  - { model: ${model}, backends: [{ backend: openai }] }
`;
  writeFileSync(file, config('gpt-4o-mini'));
  const env = { ...process.env };
  delete env.LLM_EXTPROC_TEST_UNSET_KEY;
  const child = spawn(process.execPath, [CLI, 'start', '--config', file], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  const logs = createInterface({ input: child.stderr });
  const waitForLog = (msg: string) =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no '${msg}' log line`)), 20_000);
      logs.on('line', (line) => {
        const entry = JSON.parse(line) as Record<string, unknown>;
        if (entry.msg === msg) {
          clearTimeout(timer);
          resolve(entry);
        }
      });
    });
  try {
    const started = await waitForLog('llm-extproc started');
    const dataPlane = `http://${String(started.dataPlane)}`;
    const admin = `http://${String(started.admin)}`;
    assert.equal((await fetch(`${admin}/readyz`)).status, 200);

    const ask = (model: string) =>
      fetch(`${dataPlane}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }] }),
      });
    const res = await ask('gpt-4o-mini');
    assert.equal(res.status, 503);
    const body = (await res.json()) as { error: { message: string; type: string } };
    assert.doesNotMatch(body.error.message, /LLM_EXTPROC_TEST_UNSET_KEY/);
    assert.match(body.error.message, /No backend is currently available/);

    writeFileSync(file, config('renamed-model'));
    const reloaded = waitForLog('config reloaded');
    child.kill('SIGHUP');
    await reloaded;
    assert.equal((await ask('renamed-model')).status, 503);
    assert.equal((await ask('gpt-4o-mini')).status, 404);
  } finally {
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    assert.equal(await exited, 0);
  }
});

test('start takes listen addresses from flags and LLM_EXTPROC_<NAME>_ADDRESS without a config edit; a bad one exits 2 naming its source', async () => {
  const file = path.join(tmp(), 'config.yaml');
  // The file keeps the default ports: the overrides alone move every listener to a free port.
  writeFileSync(file, 'routes: []\n');
  const env = {
    ...process.env,
    LLM_EXTPROC_EXTPROC_ADDRESS: '127.0.0.1:0',
    LLM_EXTPROC_ADMIN_ADDRESS: '127.0.0.1:1',
    LLM_EXTPROC_DATA_PLANE_ADDRESS: '127.0.0.1:0',
  };
  // The flag beats the variable (port 1 would fail to bind).
  const child = spawn(process.execPath, [CLI, 'start', '--config', file, '--admin', '127.0.0.1:0'], {
    env,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const logs = createInterface({ input: child.stderr });
  try {
    const started = await new Promise<Record<string, unknown>>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no start line')), 20_000);
      logs.on('line', (line) => {
        const entry = JSON.parse(line) as Record<string, unknown>;
        if (entry.msg === 'llm-extproc started') {
          clearTimeout(timer);
          resolve(entry);
        }
      });
    });
    for (const key of ['extproc', 'admin', 'dataPlane']) {
      assert.match(String(started[key]), /^127\.0\.0\.1:\d+$/, key);
      assert.ok(
        !['127.0.0.1:50051', '127.0.0.1:9090', '127.0.0.1:8080', '127.0.0.1:1'].includes(String(started[key])),
        `${key}: ${String(started[key])}`,
      );
    }
    assert.equal((await fetch(`http://${String(started.admin)}/healthz`)).status, 200);
  } finally {
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    assert.equal(await exited, 0);
  }
  const bad = spawnSync(process.execPath, [CLI, 'start', '--config', file], {
    encoding: 'utf8',
    timeout: 30_000,
    env: { ...process.env, LLM_EXTPROC_LISTEN_ADDRESS: 'nope' },
  });
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /LLM_EXTPROC_LISTEN_ADDRESS: expected HOST:PORT, got 'nope'/);
});

test('validate points a misspelled key at its own line and suggests the closest valid key', () => {
  const file = path.join(tmp(), 'typo.yaml');
  writeFileSync(
    file,
    'backends:\n  - name: local\n    provider: openai-compatible\n    baseURL: http://127.0.0.1:8000/v1\n',
  );
  const result = run('validate', '--config', file);
  assert.equal(result.status, 1);
  assert.equal(
    result.stderr.trim(),
    `${file}:4:5: backends[0].baseURL: unknown key "baseURL" (did you mean \`baseUrl\`?)`,
  );
});
