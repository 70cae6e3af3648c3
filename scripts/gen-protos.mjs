// `npm run gen`: Envoy's protos and the TypeScript generated from them, offline once the registries' packages are
// cached. 1. protos/envoy-api (Go; pins github.com/envoyproxy/go-control-plane/envoy, i.e. Envoy's API at one
// release) prints every Envoy .proto file and its imports into protos/gen. 2. `buf build` compiles all of them.
// 3. `buf generate` runs the local plugin of buf.gen.yaml for the service protos. Prints the time of each step.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const buf = path.join(root, 'node_modules/.bin/buf');
const gen = path.join(root, 'protos/gen');
const stamp = path.join(gen, '.go.sum');
const goSum = readFileSync(path.join(root, 'protos/envoy-api/go.sum'), 'utf8');

function step(label, fn) {
  const t0 = process.hrtime.bigint();
  fn();
  console.log(`${label}: ${(Number(process.hrtime.bigint() - t0) / 1e9).toFixed(2)} s`);
}

const run = (cmd, args, cwd = root) => execFileSync(cmd, args, { cwd, stdio: 'inherit' });

// 1. Print the protos, unless protos/gen was printed from this very go.sum already.
if (!existsSync(stamp) || readFileSync(stamp, 'utf8') !== goSum || process.argv.includes('--force')) {
  step('print protos (go run ./protos/envoy-api)', () => {
    const go = spawnSync('go', ['version'], { encoding: 'utf8' });
    if (go.error || go.status !== 0) {
      console.error(
        `Go (>= 1.26) is needed once to print Envoy's API into protos/gen (protos/README.md): ${go.error?.message ?? go.stderr}`,
      );
      process.exit(1);
    }
    rmSync(gen, { recursive: true, force: true });
    mkdirSync(gen, { recursive: true });
    // -mod=readonly: go.mod/go.sum are the pin; a module whose hash differs from go.sum fails the build.
    run('go', ['run', '-mod=readonly', '.', gen], path.join(root, 'protos/envoy-api'));
    writeFileSync(stamp, goSum);
  });
}
// 2. Compile every file (what buf checks: syntax, imports, types, option values).
step('buf build (all files)', () => run(buf, ['build', '-o', '/dev/null']));
// 3. Generate.
const services = JSON.parse(readFileSync(path.join(root, 'src/protos/service-protos.json'), 'utf8'));
step('buf generate (service protos)', () =>
  run(buf, ['generate', ...services.flatMap((p) => ['--path', `protos/gen/${p}`])]),
);
