// Listen addresses for `llm-extproc start` without writing a config: each listener has a flag and an environment
// variable, named by one rule — flag `--NAME` ⇔ variable `LLM_EXTPROC_<NAME, upper-case, '-' → '_'>_ADDRESS`:
//   --extproc HOST:PORT|unix:/PATH  LLM_EXTPROC_EXTPROC_ADDRESS     ext_proc gRPC (config extproc.address / unixSocket)
//   --admin HOST:PORT               LLM_EXTPROC_ADMIN_ADDRESS       admin HTTP (config admin.address)
//   --data-plane HOST:PORT          LLM_EXTPROC_DATA_PLANE_ADDRESS  stand-in data plane (config dataPlane.address)
//   --listen HOST:PORT              LLM_EXTPROC_LISTEN_ADDRESS      Envoy's listener (with --envoy)
//   --envoy-admin HOST:PORT         LLM_EXTPROC_ENVOY_ADMIN_ADDRESS Envoy's admin (with --envoy)
// A flag beats its variable, a variable beats the config file, the config file beats the defaults.
import { parseDocument } from 'yaml';
import type { Environment } from '../config/topology.js';

export const LISTENERS = ['extproc', 'admin', 'data-plane', 'listen', 'envoy-admin'] as const;
export type Listener = (typeof LISTENERS)[number];

/** The environment variable for a listener's flag. */
export function listenerVariable(listener: Listener): string {
  return `LLM_EXTPROC_${listener.toUpperCase().replace(/-/g, '_')}_ADDRESS`;
}

const HOST_PORT = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/;

export class ListenAddressError extends Error {}

export type ListenAddresses = Partial<Record<Listener, string>>;

/** Flag, else environment variable, for each listener; every value is checked (HOST:PORT, or unix:/PATH for extproc). */
export function resolveListenAddresses(flags: ListenAddresses, env: Environment): ListenAddresses {
  const out: ListenAddresses = {};
  for (const listener of LISTENERS) {
    const variable = listenerVariable(listener);
    const fromFlag = flags[listener];
    const fromEnv = env[variable];
    const value = fromFlag ?? (fromEnv === '' ? undefined : fromEnv);
    if (value === undefined) continue;
    const source = fromFlag !== undefined ? `--${listener}` : variable;
    const port = Number(value.slice(value.lastIndexOf(':') + 1));
    const unix = listener === 'extproc' && value.startsWith('unix:/');
    if (!unix && (!HOST_PORT.test(value) || port > 65535)) {
      throw new ListenAddressError(
        `${source}: expected HOST:PORT${listener === 'extproc' ? ' or unix:/PATH' : ''}, got '${value}'`,
      );
    }
    out[listener] = value;
  }
  return out;
}

/**
 * The config text with the service's own listeners (extproc, admin, data plane) moved where the overrides say.
 * Applied to the YAML before validation, so an override meets the same checks as the file (e.g. a non-loopback
 * address without TLS is refused).
 */
export function applyListenAddresses(yamlText: string, addresses: ListenAddresses): string {
  const parsed = parseDocument(yamlText);
  if (parsed.errors.length > 0) return yamlText; // the config loader reports syntax errors with their positions
  // An empty file (or only comments) is the defaults: start from an empty map.
  const doc = parsed.contents === null ? parseDocument('{}') : parsed;
  const extproc = addresses.extproc;
  if (extproc !== undefined) {
    if (extproc.startsWith('unix:')) doc.setIn(['extproc', 'unixSocket'], extproc.slice('unix:'.length));
    else doc.setIn(['extproc', 'address'], extproc);
  }
  if (addresses.admin !== undefined) doc.setIn(['admin', 'address'], addresses.admin);
  if (addresses['data-plane'] !== undefined) doc.setIn(['dataPlane', 'address'], addresses['data-plane']);
  return doc.toString();
}

/** True when any of the service's own listeners is overridden. */
export function movesServiceListeners(addresses: ListenAddresses): boolean {
  return addresses.extproc !== undefined || addresses.admin !== undefined || addresses['data-plane'] !== undefined;
}
