// `llm-extproc istio-manifests [--config FILE] [--namespace NS] [--extproc HOST:PORT] [--xds HOST:PORT] [--out DIR]`:
// the Istio EnvoyFilters for a service config, from the same blocks as the Envoy bootstrap.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULT_CONFIG_PATH, formatProblems, loadConfigFile } from '../config/load.js';
import { istioManifests, istioYaml, type IstioOptions } from '../envoyconfig/istio.js';
import { repoRoot } from '../util/repo-root.js';
import type { Output } from './envoy-validate.js';

/** The config file as the generated files name it: relative to the repository when it lives there. */
export function sourceName(file: string): string {
  const relative = path.relative(repoRoot(), path.resolve(file));
  return relative.startsWith('..') || path.isAbsolute(relative) ? file : relative;
}

export function istioManifestsCommand(args: string[], io: { out: Output; err: Output } = { out: process.stdout, err: process.stderr }): number {
  const { values } = parseArgs({
    args,
    options: {
      config: { type: 'string' },
      namespace: { type: 'string' },
      extproc: { type: 'string' },
      out: { type: 'string' },
      'extproc-identity': { type: 'string' },
      'extproc-insecure': { type: 'boolean' },
      xds: { type: 'string' },
      'xds-identity': { type: 'string' },
      'xds-insecure': { type: 'boolean' },
    },
    strict: true,
  });
  if (values.extproc !== undefined && !/^[A-Za-z0-9.-]+:\d{1,5}$/.test(values.extproc)) {
    io.err.write(`--extproc expects HOST:PORT, got '${values.extproc}'\n`);
    return 2;
  }
  if (values.xds !== undefined && !/^[A-Za-z0-9.-]+:\d{1,5}$/.test(values.xds)) {
    io.err.write(`--xds expects HOST:PORT, got '${values.xds}'\n`);
    return 2;
  }
  if (values.xds === undefined && (values['xds-identity'] !== undefined || values['xds-insecure'])) {
    io.err.write(`--xds-identity and --xds-insecure go with --xds\n`);
    return 2;
  }
  const file = values.config ?? DEFAULT_CONFIG_PATH;
  const loaded = loadConfigFile(file);
  if (!loaded.ok) {
    io.err.write(formatProblems(file, loaded.problems) + '\n');
    return 1;
  }
  const options: IstioOptions = {
    ...(values.namespace ? { namespace: values.namespace } : {}),
    ...(values.extproc ? { extproc: values.extproc } : {}),
    ...(values['extproc-identity'] ? { extprocIdentity: values['extproc-identity'] } : {}),
    ...(values['extproc-insecure'] ? { extprocTransport: 'insecure' as const } : {}),
    ...(values.xds ? { xds: values.xds } : {}),
    ...(values['xds-identity'] ? { xdsIdentity: values['xds-identity'] } : {}),
    ...(values['xds-insecure'] ? { xdsTransport: 'insecure' as const } : {}),
  };
  const manifests = istioManifests(loaded.config, options);
  const source = sourceName(file);
  if (values.out) {
    for (const manifest of manifests) writeFileSync(path.join(values.out, manifest.file), istioYaml(manifest, source));
    io.out.write(`wrote ${manifests.map((m) => path.join(values.out ?? '', m.file)).join(', ')}\n`);
  } else {
    io.out.write(manifests.map((m) => istioYaml(m, source)).join('---\n'));
  }
  return 0;
}
