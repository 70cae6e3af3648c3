import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { UnifiedError } from '../unified/errors.js';
import { TokenFileReader } from './token-file.js';

const tokenDir = mkdtempSync(path.join(tmpdir(), 'token-file-'));
after(() => rmSync(tokenDir, { recursive: true, force: true }));

test('the token file is re-read when it changes, and a missing or empty file fails the attempt clearly', () => {
  const reader = new TokenFileReader();
  const file = path.join(tokenDir, 'rotating');
  writeFileSync(file, 'token-one');
  utimesSync(file, 1000, 1000);
  assert.equal(reader.read(file), 'token-one');
  writeFileSync(file, 'token-two');
  utimesSync(file, 2000, 2000);
  assert.equal(reader.read(file), 'token-two');
  writeFileSync(file, '  \n');
  utimesSync(file, 3000, 3000);
  assert.throws(() => reader.read(file), /is empty/);
  rmSync(file);
  assert.throws(
    () => reader.read(file),
    (err: unknown) =>
      err instanceof Error &&
      err.message.includes(file) &&
      err.message.includes('ENOENT') &&
      !(err instanceof UnifiedError),
  );
});

test('an unchanged token file is served from the cache', () => {
  const reader = new TokenFileReader();
  const file = path.join(tokenDir, 'stable');
  writeFileSync(file, 'token-a');
  utimesSync(file, 5000, 5000);
  assert.equal(reader.read(file), 'token-a');
  // Same size and mtime: a rewrite the stat cannot see is not re-read (the documented trade-off).
  writeFileSync(file, 'token-b');
  utimesSync(file, 5000, 5000);
  assert.equal(reader.read(file), 'token-a');
});
