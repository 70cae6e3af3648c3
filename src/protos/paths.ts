// Where Envoy's protos live: protos/gen, printed by `npm run gen` (scripts/gen-protos.mjs) from the Go module
// github.com/envoyproxy/go-control-plane/envoy that protos/envoy-api/go.mod pins (Envoy 1.40.0's API). Not committed.
import { fileURLToPath } from 'node:url';
import serviceProtos from './service-protos.json' with { type: 'json' };

/** protos/gen, found from the compiled module (dist/src/protos/paths.js). */
export const PROTO_INCLUDE_DIRS: readonly string[] = [fileURLToPath(new URL('../../../protos/gen/', import.meta.url))];

/** The protos our gRPC services are built from; scripts/gen-protos.mjs generates types from the same list. */
export const SERVICE_PROTOS: readonly string[] = serviceProtos;
