// `llm-extproc istio-manifests [--config FILE] [--namespace NS] [--extproc HOST:PORT] [--xds HOST:PORT] [--out DIR]`:
// the Istio EnvoyFilters for a service config, from the same blocks as the Envoy bootstrap.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { istioManifests, istioYaml, type IstioOptions } from '../envoyconfig/istio.js';
import { addressOk, loadConfigFlag, meshFlags, sourceName, STDIO, type CommandIo } from './generator-flags.js';

const isHostPort = (value: string): boolean => /^[A-Za-z0-9.-]+:\d{1,5}$/.test(value);

export function istioManifestsCommand(args: string[], io: CommandIo = STDIO): number {
  const { values } = parseArgs({
    args,
    options: {
      config: { type: 'string' },
      namespace: { type: 'string' },
      extproc: { type: 'string' },
      out: { type: 'string' },
      ...meshFlags('extproc'),
      xds: { type: 'string' },
      ...meshFlags('xds'),
    },
    strict: true,
  });
  if (!addressOk(io, 'extproc', values.extproc, isHostPort) || !addressOk(io, 'xds', values.xds, isHostPort)) return 2;
  if (values.xds === undefined && (values['xds-identity'] !== undefined || values['xds-insecure'])) {
    io.err.write(`--xds-identity and --xds-insecure go with --xds\n`);
    return 2;
  }
  const loaded = loadConfigFlag(io, values.config);
  if (!loaded) return 1;
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
  const source = sourceName(loaded.file);
  if (values.out) {
    for (const manifest of manifests) writeFileSync(path.join(values.out, manifest.file), istioYaml(manifest, source));
    io.out.write(`wrote ${manifests.map((m) => path.join(values.out ?? '', m.file)).join(', ')}\n`);
  } else {
    io.out.write(manifests.map((m) => istioYaml(m, source)).join('---\n'));
  }
  return 0;
}
