// Where Envoy's protos live. They come from the npm package @grpc/grpc-js-xds (about Envoy 1.31); we never
// hand-copy protos, so every include path points into node_modules.
import { createRequire } from 'node:module';
import path from 'node:path';
import serviceProtos from './service-protos.json' with { type: 'json' };

const require = createRequire(import.meta.url);
const xdsPackageRoot = path.dirname(require.resolve('@grpc/grpc-js-xds/package.json'));

export const PROTO_INCLUDE_DIRS: readonly string[] = [
  'deps/envoy-api',
  'deps/xds',
  'deps/googleapis',
  'deps/protoc-gen-validate',
].map((dir) => path.join(xdsPackageRoot, dir));

/** The protos our gRPC services are built from; scripts/gen-proto-types.mjs generates types from the same list. */
export const SERVICE_PROTOS: readonly string[] = serviceProtos;
