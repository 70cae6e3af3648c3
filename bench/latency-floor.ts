// Child of bench/latency.ts: the CONTINUE-only ext_proc server (bench/floor.ts) in a process of its own, so that its
// CPU is measured apart. Sends its port to the parent, serves until killed. `http2` as the first argument: the
// same server without grpc-js; otherwise a second argument is a Unix socket to listen on as well.
import { startFloorServer, startRawFloorServer } from './floor.js';

const floor =
  process.argv[2] === 'http2'
    ? await startRawFloorServer('127.0.0.1:0')
    : await startFloorServer('127.0.0.1:0', process.argv[3]);
process.send?.({ port: floor.port });
