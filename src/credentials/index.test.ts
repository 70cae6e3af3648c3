import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { inspect } from 'node:util';
import path from 'node:path';
import { attemptCredentials, credentialsFromEnvironment } from './index.js';
import { TokenFileReader } from './token-file.js';

const dir = mkdtempSync(path.join(tmpdir(), 'credentials-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('the environment gives the key and the roles; unset required variables are named, optional ones are not', () => {
  const sources = [
    { role: 'accessKeyId', env: 'AKID', required: true },
    { role: 'secretAccessKey', env: 'SECRET', required: true },
    { role: 'sessionToken', env: 'SESSION', required: false },
  ];
  const all = credentialsFromEnvironment('KEY', sources, { KEY: 'k', AKID: 'a', SECRET: 's' });
  assert.deepEqual(all.missing, []);
  assert.equal(all.apiKey?.reveal(), 'k');
  assert.deepEqual([...all.credentials.keys()], ['accessKeyId', 'secretAccessKey']);
  assert.equal(all.credentials.get('secretAccessKey')?.reveal(), 's');
  const none = credentialsFromEnvironment('KEY', sources, {});
  assert.deepEqual(
    none.missing,
    ['KEY', 'AKID', 'SECRET'],
    'the key first, then the roles in the order the provider lists them',
  );
  assert.equal(none.apiKey, undefined);
  assert.equal(credentialsFromEnvironment(undefined, [], {}).missing.length, 0, 'a key-less backend needs nothing');
});

test('a token file is read per attempt, not with the config, and re-read when it changes', () => {
  const file = path.join(dir, 'token');
  const resolved = credentialsFromEnvironment(undefined, [{ role: 'accessToken', file, label: 'Test token' }], {});
  assert.deepEqual(resolved.missing, [], 'a file that does not exist yet does not disable the backend');
  assert.equal(resolved.credentials.size, 0);
  const files = new TokenFileReader();
  assert.throws(() => attemptCredentials(resolved, files), /Test token file .* cannot be read: ENOENT/);
  writeFileSync(file, 'one\n');
  utimesSync(file, 1000, 1000);
  const first = attemptCredentials(resolved, files);
  assert.equal(first.roles.get('accessToken')?.reveal(), 'one');
  writeFileSync(file, 'two');
  utimesSync(file, 2000, 2000);
  assert.equal(attemptCredentials(resolved, files).roles.get('accessToken')?.reveal(), 'two');
  assert.ok(
    !inspect(first, { depth: 5 }).includes('one') && !JSON.stringify([...first.roles]).includes('"one"'),
    'secrets stay redacted',
  );
});

test('environment roles and file roles are handed in together', () => {
  const file = path.join(dir, 'mixed');
  writeFileSync(file, 'from-file');
  const sources = [
    { role: 'a', env: 'A', required: true },
    { role: 'b', file, label: 'B' },
  ];
  const resolved = credentialsFromEnvironment('KEY', sources, { KEY: 'k', A: 'from-env' });
  const attempt = attemptCredentials(resolved, new TokenFileReader());
  assert.equal(attempt.apiKey?.reveal(), 'k');
  assert.equal(attempt.roles.get('a')?.reveal(), 'from-env');
  assert.equal(attempt.roles.get('b')?.reveal(), 'from-file');
});
