import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { validateEnvoyFile } from './files.js';
import { envoyValidateCommand } from '../cli/envoy-validate.js';
import { repoRoot } from '../util/repo-root.js';

function yamlFilesUnder(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const full = path.join(dir, e.name);
    if (e.isDirectory()) return yamlFilesUnder(full);
    return /\.ya?ml$/.test(e.name) ? [full] : [];
  });
}

const envoyDir = path.join(repoRoot(), 'envoy');

function capture(): {
  out: string[];
  err: string[];
  io: { out: { write(s: string): boolean }; err: { write(s: string): boolean } };
} {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, io: { out: { write: (s) => out.push(s) > 0 }, err: { write: (s) => err.push(s) > 0 } } };
}

test('every shipped Envoy YAML decodes against the protos', async () => {
  const files = yamlFilesUnder(envoyDir);
  assert.ok(
    files.some((f) => f.endsWith(`envoy${path.sep}envoy.yaml`)),
    'envoy/envoy.yaml is shipped',
  );
  assert.ok(
    files.some((f) => f.includes(`${path.sep}istio${path.sep}`)),
    'Istio manifests are shipped',
  );
  for (const file of files) {
    const { issues } = await validateEnvoyFile(file);
    assert.deepEqual(issues, [], `${path.relative(envoyDir, file)} has issues`);
  }
});

test('envoy-validate prints ok lines and exits 0 for valid files', async () => {
  const c = capture();
  const code = await envoyValidateCommand(
    [path.join(envoyDir, 'envoy.yaml'), path.join(envoyDir, 'istio', 'extproc-cluster.yaml')],
    c.io,
  );
  assert.equal(code, 0);
  assert.deepEqual(c.err, []);
  assert.match(
    c.out.join(''),
    /envoy\.yaml: ok \(Envoy bootstrap\)\n.*extproc-cluster\.yaml: ok \(Istio EnvoyFilter llm-gateway\/llm-extproc-cluster/,
  );
});

test('envoy-validate exits 1 with FILE:LINE:COL messages for a broken copy', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'envoy-validate-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const original = fs.readFileSync(path.join(envoyDir, 'envoy.yaml'), 'utf8').split('\n');
  const line = original.findIndex((l) => l.includes('allow_mode_override: true'));
  assert.ok(line >= 0);
  original[line] = (original[line] ?? '').replace('allow_mode_override', 'allow_mode_overide');
  const broken = path.join(dir, 'envoy.yaml');
  fs.writeFileSync(broken, original.join('\n'));
  const c = capture();
  assert.equal(await envoyValidateCommand([broken], c.io), 1);
  assert.deepEqual(c.out, []);
  const col = (original[line] ?? '').indexOf('allow_mode_overide') + 1;
  assert.equal(
    c.err.join(''),
    `${broken}:${line + 1}:${col}: static_resources.listeners[0].filter_chains[0].filters[0].typed_config.http_filters[0].typed_config.allow_mode_overide: ` +
      'unknown field (envoy.extensions.filters.http.ext_proc.v3.ExternalProcessor has no field "allow_mode_overide"; did you mean "allow_mode_override"?)\n',
  );
});

test('envoy-validate exits 2 for an unreadable file or no files', async () => {
  const c = capture();
  assert.equal(await envoyValidateCommand([path.join(envoyDir, 'does-not-exist.yaml')], c.io), 2);
  assert.match(c.err.join(''), /does-not-exist\.yaml: cannot read/);
  assert.equal(await envoyValidateCommand([], capture().io), 2);
});
