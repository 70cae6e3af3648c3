// `llm-extproc envoy-bootstrap --config FILE [--listen HOST:PORT] [--extproc ADDR] [--admin HOST:PORT]`: print the
// Envoy bootstrap for a service config, so users never keep two files in sync by hand.
import { parseArgs } from 'node:util';
import { bootstrapYaml, type BootstrapOptions } from '../envoyconfig/bootstrap.js';
import {
  addressOk,
  loadConfigFlag,
  mutualTlsFlags,
  mutualTlsFrom,
  sourceName,
  STDIO,
  type CommandIo,
} from './generator-flags.js';

const HOST_PORT = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/;
const isHostPort = (value: string): boolean => HOST_PORT.test(value);

export function envoyBootstrapCommand(args: string[], io: CommandIo = STDIO): number {
  const { values } = parseArgs({
    args,
    options: {
      config: { type: 'string' },
      listen: { type: 'string' },
      extproc: { type: 'string' },
      admin: { type: 'string' },
      // Mutual TLS to llm-extproc (required for a non-local target or a service with extproc.tls).
      ...mutualTlsFlags('extproc'),
      // Mutual TLS to the xDS control plane (required for a non-loopback one or a service with xds.tls).
      ...mutualTlsFlags('xds'),
    },
    strict: true,
  });
  if (!addressOk(io, 'listen', values.listen, isHostPort) || !addressOk(io, 'admin', values.admin, isHostPort))
    return 2;
  if (
    !addressOk(io, 'extproc', values.extproc, (v) => v.startsWith('unix:/') || isHostPort(v), 'HOST:PORT or unix:/PATH')
  )
    return 2;
  const loaded = loadConfigFlag(io, values.config);
  if (!loaded) return 1;
  const extprocTls = mutualTlsFrom(values, 'extproc');
  const xdsTls = mutualTlsFrom(values, 'xds');
  for (const [prefix, tls] of [
    ['extproc', extprocTls],
    ['xds', xdsTls],
  ] as const) {
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
    text = bootstrapYaml(loaded.config, options, sourceName(loaded.file));
  } catch (err) {
    io.err.write(`${err instanceof Error ? err.message : String(err)}\n`);
    return 2;
  }
  io.out.write(text);
  return 0;
}
