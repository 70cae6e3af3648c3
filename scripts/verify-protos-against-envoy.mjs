// Optional CI check: the protos in protos/gen describe the Envoy binary the tests run. Pulls the descriptors protoc
// compiled into that binary (protos/tools/descriptors-from-envoy-binary.mjs), builds protos/gen with buf, and fails if any
// file present in both differs in a message, field, enum, service or option. Files the binary lacks (extensions
// not compiled in, the frozen v2 API) are not checked.
// usage: node scripts/verify-protos-against-envoy.mjs [path/to/envoy]
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const envoy = process.argv[2] ?? path.join(root, '.envoy/venv/lib/python3.11/site-packages/envoy/_bin/envoy');
const tmp = mkdtempSync(path.join(os.tmpdir(), 'verify-protos-'));
const t0 = performance.now();
execFileSync(
  process.execPath,
  [path.join(root, 'protos/tools/descriptors-from-envoy-binary.mjs'), envoy, `${tmp}/binary.binpb`],
  { stdio: 'inherit' },
);
execFileSync(
  path.join(root, 'node_modules/.bin/buf'),
  ['build', '--exclude-source-info', '-o', `${tmp}/protos.binpb`],
  { cwd: root, stdio: 'inherit' },
);
const out = execFileSync(
  process.execPath,
  [
    path.join(root, 'protos/tools/compare-descriptor-sets.mjs'),
    `${tmp}/binary.binpb`,
    `${tmp}/protos.binpb`,
    'envoy/',
    'xds/',
    'udpa/',
    'validate/',
  ],
  {
    env: { ...process.env, VERBOSE: '1' },
    encoding: 'utf8',
  },
);
const summary = out.split('\n')[0];
const differing = Number(/differing: (\d+)/.exec(summary)?.[1] ?? 'NaN');
console.log(`${summary} (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
if (differing !== 0) {
  console.log(
    out
      .split('\n')
      .filter((l) => l.startsWith('~') || l.startsWith('   '))
      .join('\n'),
  );
  process.exit(1);
}
