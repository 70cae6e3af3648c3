#!/usr/bin/env node
// Local buf plugin: the TypeScript types @grpc/proto-loader's own generator (proto-loader-gen-types, pinned in
// package.json) writes for the files buf asks for, i.e. exactly the types of the objects proto-loader hands the
// service at run time. It runs the generator on the .proto text under the `include` directory, which must be the
// module buf compiled (buf has already parsed, linked and checked every file by then). It does not build the
// types from the descriptors buf sends: protobufjs' Root.fromDescriptor turns map fields into repeated *Entry
// messages and spells the well-known types' fields in snake_case, so its types would not match what
// protoLoader.loadSync returns.
// Options: include=DIR plus proto-loader-gen-types flags, e.g.
//   opt: [include=protos/gen, keepCase, longs=String, enums=String, oneofs, grpcLib=@grpc/grpc-js, importFileExtension=.js]
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { parseParameter, readRequest, writeResponse } from './plugin-io.mjs';

const require = createRequire(import.meta.url);
const generator = path.join(
  path.dirname(require.resolve('@grpc/proto-loader/package.json')),
  'build/bin/proto-loader-gen-types.js',
);

const req = await readRequest();
const { include, ...params } = parseParameter(req.parameter);
const tmp = mkdtempSync(path.join(os.tmpdir(), 'proto-loader-types-'));
try {
  if (typeof include !== 'string') throw new Error('protoc-gen-proto-loader-types: the include=DIR option is required');
  const flags = Object.entries(params).map(([k, v]) => (v === true ? `--${k}` : `--${k}=${v}`));
  execFileSync(process.execPath, [generator, ...flags, '-I', path.resolve(include), '-O', tmp, ...req.fileToGenerate], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const files = [];
  const walk = (dir, rel) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) walk(path.join(dir, e.name), r);
      // The generator names the absolute source path; keep the output independent of where the checkout lives.
      else files.push([r, readFileSync(path.join(dir, e.name), 'utf8').replaceAll(`${path.resolve(include)}/`, '')]);
    }
  };
  walk(tmp, '');
  files.sort((a, b) => a[0].localeCompare(b[0]));
  writeResponse(files);
} catch (e) {
  writeResponse([], String(e?.stack ?? e));
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
