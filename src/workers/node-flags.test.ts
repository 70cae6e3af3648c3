// The service's Node flags: every launcher carries them, children get them unless the operator chose otherwise,
// and V8 does what the flag says.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { repoRoot } from '../util/repo-root.js';
import { SERVICE_NODE_FLAGS, withServiceNodeFlags } from './node-flags.js';

const flags = SERVICE_NODE_FLAGS.join(' ');
const read = (file: string) => readFileSync(path.join(repoRoot(), file), 'utf8');

test('the bin, npm start and the container image start node with the service flags', () => {
  assert.equal(read('src/cli/main.ts').split('\n')[0], `#!/usr/bin/env -S node ${flags}`);
  const scripts = (JSON.parse(read('package.json')) as { scripts: Record<string, string> }).scripts;
  assert.match(scripts.start ?? '', new RegExp(`node ${flags} dist/src/cli/main\\.js start`));
  const entrypoint = read('Dockerfile')
    .split('\n')
    .find((line) => line.startsWith('ENTRYPOINT'));
  assert.deepEqual(JSON.parse(entrypoint?.slice('ENTRYPOINT'.length) ?? '[]'), [
    'node',
    ...SERVICE_NODE_FLAGS,
    'dist/src/cli/main.js',
  ]);
});

test("worker processes get the flags after the primary's own, unless the operator set them", () => {
  assert.deepEqual(withServiceNodeFlags(['--enable-source-maps']), ['--enable-source-maps', ...SERVICE_NODE_FLAGS]);
  assert.deepEqual(withServiceNodeFlags(['--max-semi-space-size=32']), ['--max-semi-space-size=32']);
  assert.deepEqual(withServiceNodeFlags(['--max-semi-space-size', '32']), ['--max-semi-space-size', '32']);
  assert.deepEqual(withServiceNodeFlags([], '--max-old-space-size=512 --max-semi-space-size=4'), []);
  assert.deepEqual(withServiceNodeFlags([], '--max-old-space-size=512'), [...SERVICE_NODE_FLAGS]);
});

test('with the flags, V8 keeps a young generation of 2 × 8 MB (16 MB by default on 64-bit Node 20: 2 × 16)', () => {
  const newSpaceMb = (args: readonly string[]) =>
    Number(
      execFileSync(process.execPath, [
        ...args,
        '-e',
        // Allocate enough short-lived objects for the young generation to grow to its maximum.
        `let k = []; for (let i = 0; i < 2e6; i++) { k.push({ i, s: 'x' + i }); if (k.length > 5e4) k = []; }
         const s = require('v8').getHeapSpaceStatistics().find((x) => x.space_name === 'new_space');
         process.stdout.write(String(s.space_size / 1048576));`,
      ]).toString(),
    );
  assert.equal(newSpaceMb(SERVICE_NODE_FLAGS), 16);
  assert.ok(newSpaceMb([]) > 16);
});
