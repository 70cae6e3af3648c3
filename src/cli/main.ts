#!/usr/bin/env -S node --max-semi-space-size=8
// llm-extproc command line: start | validate | envoy-validate.
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import { DEFAULT_CONFIG_PATH, formatProblems, loadConfigFile, type ConfigResult } from '../config/load.js';
import type { ServiceConfig } from '../config/schema.js';
import { startService } from '../service.js';
import { errorMessage, log } from '../telemetry/log.js';
import { envoyBootstrapCommand } from './envoy-bootstrap.js';
import { startFrontProxy } from './front-proxy.js';
import {
  ListenAddressError,
  applyListenAddresses,
  movesServiceListeners,
  resolveListenAddresses,
} from './listen-overrides.js';
import { istioManifestsCommand } from './istio-manifests.js';
import { envoyValidateCommand } from './envoy-validate.js';
import { translateCommand } from './translate.js';
import { tokensCommand } from '../tokens/command.js';

const USAGE = `usage:
  llm-extproc start [--config FILE] [--extproc HOST:PORT|unix:/PATH] [--admin HOST:PORT] [--data-plane HOST:PORT]
                    [--envoy [--listen HOST:PORT] [--envoy-admin HOST:PORT]]
                                             run the service (embedded defaults without --config); --envoy also runs the
                                             pinned Envoy in front of it (default listener 127.0.0.1:10000). Each address
                                             flag --NAME can also come from LLM_EXTPROC_<NAME>_ADDRESS (e.g.
                                             LLM_EXTPROC_EXTPROC_ADDRESS, LLM_EXTPROC_ENVOY_ADMIN_ADDRESS); a flag wins
  llm-extproc validate --config FILE         check a service config; exits 1 with line-pointing messages
  llm-extproc envoy-bootstrap [--config FILE] [--listen HOST:PORT] [--extproc HOST:PORT|unix:/PATH] [--admin HOST:PORT]
                              [--extproc-cert FILE --extproc-key FILE --extproc-ca FILE [--extproc-sni NAME] [--extproc-san ID]]
                              [--extproc-insecure] [--xds-cert FILE --xds-key FILE --xds-ca FILE [--xds-sni NAME] [--xds-san ID]]
                              [--xds-insecure]
                                             print the Envoy bootstrap for a service config (routes, clusters, both filters);
                                             mutual TLS to llm-extproc is required beyond loopback or with extproc.tls, and
                                             to the xDS control plane (xds.enabled) beyond loopback or with xds.tls
  llm-extproc istio-manifests [--config FILE] [--namespace NS] [--extproc HOST:PORT] [--out DIR]
                              [--extproc-identity SPIFFE-ID] [--extproc-insecure]
                              [--xds HOST:PORT [--xds-identity SPIFFE-ID] [--xds-insecure]]
                                             print (or write to DIR) the Istio EnvoyFilters for a service config;
                                             --xds adds llm-clusters.yaml (EDS clusters from the service's control plane)
  llm-extproc envoy-validate FILE...         decode Envoy YAML (bootstrap or Istio EnvoyFilter) strictly against Envoy's protos
  llm-extproc translate --provider NAME --direction request|response [--stream] [--model M] [--config FILE --backend NAME]
                                             translate stdin (JSON, SSE or eventstream bytes) for one provider, offline
  llm-extproc tokens [--model NAME] [--json]  count the prompt tokens of a unified request on stdin
`;

async function start(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      config: { type: 'string' },
      envoy: { type: 'boolean', default: false },
      // Listen addresses: flag > LLM_EXTPROC_<FLAG>_ADDRESS > config > default (src/cli/listen-overrides.ts).
      listen: { type: 'string' },
      'envoy-admin': { type: 'string' },
      extproc: { type: 'string' },
      admin: { type: 'string' },
      'data-plane': { type: 'string' },
    },
    strict: true,
  });
  let addresses;
  try {
    addresses = resolveListenAddresses(
      {
        listen: values.listen,
        'envoy-admin': values['envoy-admin'],
        extproc: values.extproc,
        admin: values.admin,
        'data-plane': values['data-plane'],
      },
      process.env,
    );
  } catch (err) {
    if (!(err instanceof ListenAddressError)) throw err;
    process.stderr.write(`${err.message}\n${USAGE}`);
    return 2;
  }
  const file = values.config ?? DEFAULT_CONFIG_PATH;
  // Overrides go into the YAML before validation: they meet the same checks as addresses in the file.
  const place = (path: string): ConfigResult =>
    movesServiceListeners(addresses)
      ? loadConfigFile(path, (text) => applyListenAddresses(text, addresses))
      : loadConfigFile(path);
  const loaded = place(file);
  if (!loaded.ok) {
    process.stderr.write(formatProblems(file, loaded.problems) + '\n');
    return 1;
  }
  const placed = loaded.config;
  // With a real Envoy in front, the stand-in stays off (it is the fallback when Envoy cannot run here).
  const withoutStandIn = (c: ServiceConfig): ServiceConfig =>
    values.envoy ? { ...c, dataPlane: { ...c.dataPlane, enabled: false } } : c;
  const config = withoutStandIn(placed);
  // A reload reads the file the same way: the command line's addresses and choices outlive it.
  const loadConfig = (path: string): ConfigResult => {
    const result = place(path);
    return result.ok ? { ...result, config: withoutStandIn(result.config) } : result;
  };
  // extproc.workers absent: one ext_proc process per core (src/workers/); with the stand-in data plane one, since
  // its single ext_proc connection would only ever reach one worker.
  const workers = config.dataPlane.enabled ? 1 : availableParallelism();
  // Signals are taken from the first moment: one that arrives while the service or Envoy is still starting waits
  // for that step, then stops what was started (Node's default would exit and leave Envoy and workers behind).
  let signalled: string | undefined;
  const stopRequested = new Promise<string>((resolve) => {
    const on = (signal: string): void => {
      signalled = signal;
      resolve(signal);
    };
    process.once('SIGINT', () => on('SIGINT'));
    process.once('SIGTERM', () => on('SIGTERM'));
  });
  const service = await startService({ configFile: file, config, watch: true, workers, loadConfig });
  const front =
    values.envoy && signalled === undefined
      ? await startFrontProxy(service, placed, {
          listen: addresses.listen ?? '127.0.0.1:10000',
          admin: addresses['envoy-admin'] ?? '127.0.0.1:9901',
        })
      : undefined;
  if (front && signalled === undefined) log.info(`ready: send OpenAI requests to ${front.url}/v1`, { via: front.kind });
  log.info('shutting down', { signal: await stopRequested });
  // Envoy first: it stops sending new requests, then the service drains what is in flight.
  await front?.close();
  // No grace period when our own Envoy was in front: it is gone already, nobody else needs to notice.
  await service.drain(front ? 0 : undefined);
  return 0;
}

function validate(args: string[]): number {
  const { values } = parseArgs({ args, options: { config: { type: 'string' } }, strict: true });
  if (!values.config) {
    process.stderr.write('validate needs --config FILE\n' + USAGE);
    return 2;
  }
  const loaded = loadConfigFile(values.config);
  if (!loaded.ok) {
    process.stderr.write(formatProblems(values.config, loaded.problems) + '\n');
    return 1;
  }
  process.stdout.write(
    `${values.config}: ok (${loaded.config.backends.length} backends, ${loaded.config.routes.length} routes)\n`,
  );
  return 0;
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'start':
      return start(rest);
    case 'validate':
      return validate(rest);
    case 'envoy-bootstrap':
      return envoyBootstrapCommand(rest);
    case 'istio-manifests':
      return istioManifestsCommand(rest);
    case 'envoy-validate':
      return envoyValidateCommand(rest);
    case 'translate':
      return translateCommand(rest, process.stdin, process.stdout);
    case 'tokens':
      return tokensCommand(rest, process.stdin);
    case undefined:
    case '-h':
    case '--help':
    case 'help':
      process.stdout.write(USAGE);
      return command === undefined ? 2 : 0;
    default:
      process.stderr.write(`unknown command '${command}'\n${USAGE}`);
      return 2;
  }
}

// A bug in one request must not take every other request down with it; log loudly instead.
process.on('unhandledRejection', (reason) => log.error('unhandled promise rejection', { error: errorMessage(reason) }));

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`llm-extproc: ${errorMessage(err)}\n`);
    process.exitCode = 1;
  },
);
