// Child of bench/latency.ts: the CONTINUE-only ext_proc server (bench/floor.ts) in a process of its own, so that its
// CPU is measured apart. Sends its port to the parent, serves until killed.
import { startFloorServer } from './floor.js';

const floor = await startFloorServer('127.0.0.1:0');
process.send?.({ port: floor.port });
