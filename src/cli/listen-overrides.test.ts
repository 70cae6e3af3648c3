import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadConfigFile } from '../config/load.js';
import { ConfigStore } from '../config/store.js';
import { configFromYaml } from '../testing/config.js';
import {
  ListenAddressError,
  applyListenAddresses,
  listenerVariable,
  movesServiceListeners,
  resolveListenAddresses,
  type ListenAddresses,
} from './listen-overrides.js';

test('one naming rule: --NAME ⇔ LLM_EXTPROC_<NAME>_ADDRESS', () => {
  assert.equal(listenerVariable('extproc'), 'LLM_EXTPROC_EXTPROC_ADDRESS');
  assert.equal(listenerVariable('admin'), 'LLM_EXTPROC_ADMIN_ADDRESS');
  assert.equal(listenerVariable('data-plane'), 'LLM_EXTPROC_DATA_PLANE_ADDRESS');
  assert.equal(listenerVariable('listen'), 'LLM_EXTPROC_LISTEN_ADDRESS');
  assert.equal(listenerVariable('envoy-admin'), 'LLM_EXTPROC_ENVOY_ADMIN_ADDRESS');
});

const CASES: Array<{ name: string; flags: ListenAddresses; env: Record<string, string>; want: ListenAddresses }> = [
  { name: 'nothing set: nothing overridden', flags: {}, env: {}, want: {} },
  {
    name: 'a variable alone',
    flags: {},
    env: { LLM_EXTPROC_ADMIN_ADDRESS: '0.0.0.0:19090' },
    want: { admin: '0.0.0.0:19090' },
  },
  {
    name: 'a flag beats its variable',
    flags: { extproc: '127.0.0.1:6000' },
    env: { LLM_EXTPROC_EXTPROC_ADDRESS: '127.0.0.1:7000', LLM_EXTPROC_LISTEN_ADDRESS: '[::1]:8000' },
    want: { extproc: '127.0.0.1:6000', listen: '[::1]:8000' },
  },
  { name: 'an empty variable counts as unset', flags: {}, env: { LLM_EXTPROC_DATA_PLANE_ADDRESS: '' }, want: {} },
  {
    name: 'extproc may be a Unix socket',
    flags: { extproc: 'unix:/run/llm.sock' },
    env: {},
    want: { extproc: 'unix:/run/llm.sock' },
  },
  {
    name: 'envoy admin',
    flags: {},
    env: { LLM_EXTPROC_ENVOY_ADMIN_ADDRESS: 'localhost:9911' },
    want: { 'envoy-admin': 'localhost:9911' },
  },
];

for (const c of CASES) {
  test(`resolve: ${c.name}`, () => assert.deepEqual(resolveListenAddresses(c.flags, c.env), c.want));
}

test('bad values name their source', () => {
  assert.throws(
    () => resolveListenAddresses({ admin: '9090' }, {}),
    (err: unknown) => err instanceof ListenAddressError && /--admin/.test(err.message),
  );
  assert.throws(
    () => resolveListenAddresses({}, { LLM_EXTPROC_LISTEN_ADDRESS: 'host:99999' }),
    (err: unknown) => err instanceof ListenAddressError && /LLM_EXTPROC_LISTEN_ADDRESS/.test(err.message),
  );
  assert.throws(() => resolveListenAddresses({ admin: 'unix:/x' }, {}), ListenAddressError);
});

test('apply: the service listeners move in the YAML, the rest of the config stays, and the result is validated like the file', () => {
  const text = 'extproc: { address: "127.0.0.1:50051" }\nadmin: { address: "127.0.0.1:9090" }\nroutes: []\n';
  const moved = configFromYaml(
    applyListenAddresses(text, {
      extproc: '127.0.0.1:6000',
      admin: '127.0.0.1:19090',
      'data-plane': '127.0.0.1:18080',
      listen: 'x:1',
    }),
  );
  assert.equal(moved.extproc.address, '127.0.0.1:6000');
  assert.equal(moved.admin.address, '127.0.0.1:19090');
  assert.equal(moved.admin.enabled, true);
  assert.equal(moved.dataPlane.address, '127.0.0.1:18080');
  assert.deepEqual(moved.routes, []);
  const socket = configFromYaml(applyListenAddresses(text, { extproc: 'unix:/run/llm.sock' }));
  assert.equal(socket.extproc.unixSocket, '/run/llm.sock');
  assert.equal(socket.extproc.address, '127.0.0.1:50051');
  // An empty file (the embedded defaults) takes overrides too.
  assert.equal(configFromYaml(applyListenAddresses('', { admin: '127.0.0.1:1' })).admin.address, '127.0.0.1:1');
  assert.equal(movesServiceListeners({ listen: 'x:1' }), false);
  assert.equal(movesServiceListeners({ admin: 'x:1' }), true);
});

test('a reload reads the file through the same overrides: the listeners stay where the command line put them', (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'llm-extproc-listen-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'config.yaml');
  writeFileSync(file, 'extproc:\n  address: 127.0.0.1:50051\nlimits:\n  maxRequestBodyBytes: 100\n');
  const overrides = { extproc: '127.0.0.1:7001', admin: '127.0.0.1:7002' };
  const load = (f: string) => loadConfigFile(f, (text) => applyListenAddresses(text, overrides));
  const first = load(file);
  assert.ok(first.ok);
  const store = new ConfigStore(file, first.config, {}, load);

  writeFileSync(file, 'extproc:\n  address: 127.0.0.1:50051\nlimits:\n  maxRequestBodyBytes: 200\n');
  assert.deepEqual(store.reload(), { ok: true, generation: 2 });
  const { config } = store.current();
  assert.equal(config.limits.maxRequestBodyBytes, 200, 'the reload applied');
  assert.equal(config.extproc.address, '127.0.0.1:7001');
  assert.equal(config.admin.address, '127.0.0.1:7002');
});
