// `llm-extproc envoy-bootstrap --config FILE [--listen HOST:PORT] [--extproc ADDR] [--admin HOST:PORT]`: print the
// Envoy bootstrap for a service config, so users never keep two files in sync by hand.
import { parseArgs } from 'node:util';
import { DEFAULT_CONFIG_PATH, formatProblems, loadConfigFile } from '../config/load.js';
import { bootstrapYaml, type BootstrapOptions } from '../envoyconfig/bootstrap.js';
import type { ExtprocClientTls } from '../envoyconfig/blocks.js';
import { sourceName } from './istio-manifests.js';
import type { Output } from './envoy-validate.js';

const HOST_PORT = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/;

export function envoyBootstrapCommand(args: string[], io: { out: Output; err: Output } = { out: process.stdout, err: process.stderr }): number {
  const { values } = parseArgs({
    args,
    options: {
      config: { type: 'string' },
      listen: { type: 'string' },
      extproc: { type: 'string' },
      admin: { type: 'string' },
      // Mutual TLS to llm-extproc (required for a non-local target or a service with extproc.tls).
      'extproc-cert': { type: 'string' },
      'extproc-key': { type: 'string' },
      'extproc-ca': { type: 'string' },
      'extproc-sni': { type: 'string' },
      'extproc-san': { type: 'string' },
      'extproc-insecure': { type: 'boolean' },
      // Mutual TLS to the xDS control plane (required for a non-loopback one or a service with xds.tls).
      'xds-cert': { type: 'string' },
      'xds-key': { type: 'string' },
      'xds-ca': { type: 'string' },
      'xds-sni': { type: 'string' },
      'xds-san': { type: 'string' },
      'xds-insecure': { type: 'boolean' },
    },
    strict: true,
  });
  for (const flag of ['listen', 'admin'] as const) {
    const value = values[flag];
    if (value !== undefined && !HOST_PORT.test(value)) {
      io.err.write(`--${flag} expects HOST:PORT, got '${value}'\n`);
      return 2;
    }
  }
  if (values.extproc !== undefined && !values.extproc.startsWith('unix:/') && !HOST_PORT.test(values.extproc)) {
    io.err.write(`--extproc expects HOST:PORT or unix:/PATH, got '${values.extproc}'\n`);
    return 2;
  }
  const file = values.config ?? DEFAULT_CONFIG_PATH;
  const loaded = loadConfigFile(file);
  if (!loaded.ok) {
    io.err.write(formatProblems(file, loaded.problems) + '\n');
    return 1;
  }
  // --PREFIX-cert/-key/-ca (together) and optional -sni/-san: Envoy's client side of a mutual TLS connection.
  const clientTls = (prefix: 'extproc' | 'xds'): ExtprocClientTls | undefined | 'mixed' => {
    const [cert, key, ca, sni, san] = (['cert', 'key', 'ca', 'sni', 'san'] as const).map((part) => values[`${prefix}-${part}`]);
    if ([cert, key, ca, sni, san].every((v) => v === undefined)) return undefined;
    if (cert === undefined || key === undefined || ca === undefined) return 'mixed';
    return { certFile: cert, keyFile: key, caFile: ca, ...(sni ? { sni } : {}), ...(san ? { serviceSan: san } : {}) };
  };
  const extprocTls = clientTls('extproc');
  const xdsTls = clientTls('xds');
  for (const [prefix, tls] of [['extproc', extprocTls], ['xds', xdsTls]] as const) {
    if (tls !== 'mixed') continue;
    io.err.write(`--${prefix}-cert, --${prefix}-key and --${prefix}-ca go together\n`);
    return 2;
  }
  const options: BootstrapOptions = {
    ...(values.listen ? { listen: values.listen } : {}),
    ...(values.extproc ? { extproc: values.extproc } : {}),
    ...(values.admin ? { admin: values.admin } : {}),
    ...(extprocTls && extprocTls !== 'mixed' ? { extprocTls } : {}),
    ...(values['extproc-insecure'] ? { extprocInsecure: true } : {}),
    ...(xdsTls && xdsTls !== 'mixed' ? { xdsTls } : {}),
    ...(values['xds-insecure'] ? { xdsInsecure: true } : {}),
  };
  let text: string;
  try {
    // Named relative to the repository when it lives there, so envoy/envoy.yaml is the same on every machine.
    text = bootstrapYaml(loaded.config, options, sourceName(file));
  } catch (err) {
    io.err.write(`${err instanceof Error ? err.message : String(err)}\n`);
    return 2;
  }
  io.out.write(text);
  return 0;
}
