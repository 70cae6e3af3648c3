// Generates TypeScript types for the Envoy protos we serve (src/generated/, not committed) with
// @grpc/proto-loader's own generator. Runs offline: the protos come from @grpc/grpc-js-xds in node_modules.
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const xdsRoot = path.dirname(require.resolve('@grpc/grpc-js-xds/package.json'));
const includes = ['envoy-api', 'xds', 'googleapis', 'protoc-gen-validate'].flatMap((d) => ['-I', path.join(xdsRoot, 'deps', d)]);
import { readFileSync } from 'node:fs';
const protos = JSON.parse(readFileSync(path.join(root, 'src/protos/service-protos.json'), 'utf8'));
const generator = path.join(path.dirname(require.resolve('@grpc/proto-loader/package.json')), 'build/bin/proto-loader-gen-types.js');
execFileSync(process.execPath, [
  generator, '--keepCase', '--longs=String', '--enums=String', '--oneofs', '--grpcLib=@grpc/grpc-js', '--importFileExtension=.js',
  ...includes, '-O', path.join(root, 'src/generated'), ...protos,
], { stdio: 'inherit' });
