// `llm-extproc start --envoy` (what `npm start` runs): the service with the pinned Envoy in front, from the
// bootstrap generated for the active config; the stand-in only when Envoy cannot run here, said in one line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';

const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

const config = (model: string, xds = false) => `
extproc: { address: 127.0.0.1:0 }
xds: { enabled: ${xds}, address: 127.0.0.1:0 }
admin: { address: 127.0.0.1:0 }
dataPlane: { address: 127.0.0.1:0 }
logging: { level: info }
backends:
  - { name: openai, provider: openai, apiKeyEnv: LLM_EXTPROC_TEST_UNSET_KEY }
routes:
  - { model: ${model}, backends: [{ backend: openai }] }
`;

/** Lines of a child's stream, with a way to wait for the first one matching a pattern. */
function lineWatcher(stream: NodeJS.ReadableStream) {
  const seen: string[] = [];
  const waiters: { pattern: RegExp; resolve: (line: string) => void }[] = [];
  createInterface({ input: stream }).on('line', (line) => {
    seen.push(line);
    for (const w of [...waiters]) {
      if (w.pattern.test(line)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(line);
      }
    }
  });
  return {
    seen,
    waitFor(pattern: RegExp, timeoutMs = 30_000): Promise<string> {
      const already = seen.find((l) => pattern.test(l));
      if (already) return Promise.resolve(already);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`no line matching ${pattern}; saw:\n${seen.join('\n')}`)),
          timeoutMs,
        );
        waiters.push({ pattern, resolve: (line) => (clearTimeout(timer), resolve(line)) });
      });
    },
  };
}

function startCli(file: string, extraEnv: Record<string, string> = {}) {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extraEnv };
  delete env.LLM_EXTPROC_TEST_UNSET_KEY;
  const child = spawn(
    process.execPath,
    [CLI, 'start', '--config', file, '--envoy', '--listen', '127.0.0.1:0', '--envoy-admin', '127.0.0.1:0'],
    {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  return { child, stdout: lineWatcher(child.stdout), stderr: lineWatcher(child.stderr) };
}

async function stop(child: ChildProcess): Promise<number | null> {
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  child.kill('SIGTERM');
  return exited;
}

const ask = (base: string, model: string) =>
  fetch(`${base}/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }] }),
  });

const readyUrl = (line: string) => {
  const match = /send OpenAI requests to (http:\/\/[^"]+\/v1)/.exec(line);
  assert.ok(match, line);
  return match[1] as string;
};

test('start --envoy answers through a real Envoy, logs each request on stdout, follows a reload and stops on SIGTERM', async () => {
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'llm-extproc-start-')), 'config.yaml');
  writeFileSync(file, config('gpt-4o-mini'));
  const { child, stdout, stderr } = startCli(file);
  try {
    const ready = await stderr.waitFor(/send OpenAI requests to/);
    assert.match(ready, /"via":"envoy"/);
    const base = readyUrl(ready);
    const res = await ask(base, 'gpt-4o-mini');
    assert.equal(res.status, 503);
    // The access log line is Envoy's: it carries Envoy's response flags and our dynamic metadata.
    const logged = JSON.parse(await stdout.waitFor(/"response_code":503/)) as Record<string, unknown>;
    assert.equal(logged.response_flags, '-');
    assert.deepEqual(logged.llm_extproc, { error: 'no_backend_available', model: 'gpt-4o-mini', status: 503 });

    writeFileSync(file, config('renamed-model'));
    child.kill('SIGHUP');
    await stderr.waitFor(/restarting the local Envoy/);
    // Until the new Envoy runs, the old one still answers (and the service, already reloaded, routes the new model
    // there too), so a request may meet its shutdown: wait for the restart to finish.
    await stderr.waitFor(/"msg":"Envoy restarted"/);
    // Same listener port after the restart.
    let status = 0;
    for (let i = 0; i < 50 && status !== 503; i++) {
      status = await ask(base, 'renamed-model').then(
        (r) => r.status,
        () => 0,
      );
      if (status !== 503) await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(status, 503, 'the renamed model is routed after the reload');
    assert.equal((await ask(base, 'gpt-4o-mini')).status, 404);
  } finally {
    assert.equal(await stop(child), 0);
  }
});

test('start --envoy with the xDS control plane: a reload reaches Envoy over ADS, with no Envoy restart', async () => {
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'llm-extproc-start-')), 'config.yaml');
  writeFileSync(file, config('gpt-4o-mini', true));
  const { child, stderr } = startCli(file);
  try {
    const ready = await stderr.waitFor(/send OpenAI requests to/);
    const base = readyUrl(ready);
    assert.equal((await ask(base, 'gpt-4o-mini')).status, 503);
    writeFileSync(file, config('renamed-model', true));
    child.kill('SIGHUP');
    await stderr.waitFor(/config reloaded/);
    let status = 0;
    for (let i = 0; i < 50 && status !== 503; i++) {
      status = await ask(base, 'renamed-model').then(
        (r) => r.status,
        () => 0,
      );
      if (status !== 503) await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(status, 503, 'the renamed model is routed after the reload');
    assert.ok(!stderr.seen.some((l) => /restarting the local Envoy/.test(l)), 'Envoy was not restarted');
  } finally {
    assert.equal(await stop(child), 0);
  }
});

test('start --envoy says in one line that Envoy is unavailable and falls back to the stand-in', async () => {
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'llm-extproc-start-')), 'config.yaml');
  writeFileSync(file, config('gpt-4o-mini'));
  const { child, stderr } = startCli(file, { LLM_EXTPROC_ENVOY: '/nonexistent/envoy' });
  try {
    const notice = await stderr.waitFor(/^Envoy is not available/);
    assert.match(
      notice,
      /^Envoy is not available \(Envoy at \/nonexistent\/envoy does not run: .*\); falling back to the stand-in data plane on 127\.0\.0\.1:0\.$/,
    );
    const ready = await stderr.waitFor(/send OpenAI requests to/);
    assert.match(ready, /"via":"stand-in"/);
    assert.equal((await ask(readyUrl(ready), 'gpt-4o-mini')).status, 503);
  } finally {
    assert.equal(await stop(child), 0);
  }
});

test('SIGTERM while start --envoy is still starting stops cleanly: no Envoy or worker is left behind', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'llm-extproc-start-early-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'config.yaml');
  writeFileSync(file, config('gpt-4o-mini'));
  // Envoy's bootstrap and admin-address files go under TMPDIR: its command line names this directory.
  const envoyTmp = mkdtempSync(path.join(dir, 'tmp-'));
  const { child, stderr } = startCli(file, { TMPDIR: envoyTmp });
  // The service is up; Envoy is being started right now.
  await stderr.waitFor(/llm-extproc started/);
  assert.equal(await stop(child), 0);
  assert.ok(!stderr.seen.some((l) => /send OpenAI requests to/.test(l)), 'not announced ready after the signal');
  // Whatever was started (the local Envoy, the ext_proc workers) is gone with the CLI.
  const leftovers = (): string[] =>
    execFileSync('ps', ['-eo', 'pid,args'], { encoding: 'utf8' })
      .split('\n')
      .filter((line) => line.includes(envoyTmp) || line.includes(file));
  for (let i = 0; i < 30 && leftovers().length > 0; i++) await new Promise((r) => setTimeout(r, 100));
  assert.deepEqual(leftovers(), []);
});
