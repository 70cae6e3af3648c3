// Operator actions on the admin port: POST /backends/<name>/pin | drain | restore, protected like /budgets,
// bodies validated, unknown backends 404, other methods 405.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Secret } from '../util/secret.js';
import { startAdminServer, type AdminServer, type BackendAction } from './server.js';

describe('admin operator actions', () => {
  let server: AdminServer;
  const actions: Array<[string, BackendAction]> = [];
  const url = (p: string) => `http://127.0.0.1:${server.port}${p}`;
  const auth = { authorization: 'Bearer s3cret', 'content-type': 'application/json' };

  before(async () => {
    server = await startAdminServer({
      host: '127.0.0.1',
      port: 0,
      notReadyReasons: () => [],
      backends: () => ({ backends: [{ name: 'alpha' }] }),
      operateBackend: (backend, action) => {
        if (backend !== 'alpha') return undefined;
        actions.push([backend, action]);
        return { backend, action };
      },
      token: new Secret('s3cret'),
    });
  });
  after(() => server.close());

  test('without the token: 401, nothing done', async () => {
    const res = await fetch(url('/backends/alpha/drain'), { method: 'POST' });
    assert.equal(res.status, 401);
    assert.equal((await fetch(url('/backends'))).status, 401);
    assert.equal(actions.length, 0);
  });

  test('drain, pin and restore reach the monitor; the answer is the backend view', async () => {
    const drain = await fetch(url('/backends/alpha/drain'), {
      method: 'POST',
      headers: auth,
      body: JSON.stringify({ reason: 'maintenance' }),
    });
    assert.equal(drain.status, 200);
    assert.deepEqual(actions.at(-1), [
      'alpha',
      { kind: 'pin', state: 'DRAINING', weight: undefined, reason: 'maintenance' },
    ]);
    const pin = await fetch(url('/backends/alpha/pin'), {
      method: 'POST',
      headers: auth,
      body: JSON.stringify({ state: 'HEALTHY', weight: 7 }),
    });
    assert.equal(pin.status, 200);
    assert.deepEqual(actions.at(-1), ['alpha', { kind: 'pin', state: 'HEALTHY', weight: 7, reason: undefined }]);
    const restore = await fetch(url('/backends/alpha/restore'), {
      method: 'POST',
      headers: { authorization: 'Bearer s3cret' },
    });
    assert.equal(restore.status, 200);
    assert.deepEqual(actions.at(-1), ['alpha', { kind: 'restore' }]);
    assert.deepEqual(await restore.json(), { backend: 'alpha', action: { kind: 'restore' } });
  });

  test('bad bodies are 400 with the reason; unknown backends 404; GET on an action 405', async () => {
    const count = actions.length;
    for (const body of [
      '{"state":"DOWN"}',
      '{"state":"HEALTHY","weight":0}',
      '{"state":"HEALTHY","extra":1}',
      'not json',
      '{}',
    ]) {
      const res = await fetch(url('/backends/alpha/pin'), { method: 'POST', headers: auth, body });
      assert.equal(res.status, 400, body);
      assert.ok(typeof ((await res.json()) as { error: unknown }).error === 'string');
    }
    assert.equal(
      (await fetch(url('/backends/alpha/pin'), { method: 'POST', headers: auth, body: 'x'.repeat(10_000) })).status,
      413,
    );
    assert.equal((await fetch(url('/backends/nope/drain'), { method: 'POST', headers: auth })).status, 404);
    assert.equal((await fetch(url('/backends/alpha/drain'), { headers: auth })).status, 405);
    assert.equal(actions.length, count);
  });
});
