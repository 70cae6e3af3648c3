// What the two generator commands (envoy-bootstrap, istio-manifests) read the same way: the config file, the
// transport flags of each connection Envoy makes to llm-extproc (ext_proc, xDS), and the config's name in the
// generated files.
import path from 'node:path';
import type { ExtprocClientTls } from '../envoyconfig/blocks.js';
import type { ServiceConfig } from '../config/schema.js';
import { DEFAULT_CONFIG_PATH, formatProblems, loadConfigFile } from '../config/load.js';
import { repoRoot } from '../util/repo-root.js';
import type { Output } from './envoy-validate.js';

export interface CommandIo {
  readonly out: Output;
  readonly err: Output;
}

export const STDIO: CommandIo = { out: process.stdout, err: process.stderr };

/** The two connections Envoy makes to llm-extproc; each has its own transport flags, `--<connection>-…`. */
export type Connection = 'extproc' | 'xds';

const FILE_PARTS = ['cert', 'key', 'ca', 'sni', 'san'] as const;

type StringFlag = { readonly type: 'string' };
type BooleanFlag = { readonly type: 'boolean' };
type MutualTlsFlags<C extends Connection> = { readonly [K in `${C}-${(typeof FILE_PARTS)[number]}`]: StringFlag } & {
  readonly [K in `${C}-insecure`]: BooleanFlag;
};
type MeshFlags<C extends Connection> = { readonly [K in `${C}-identity`]: StringFlag } & {
  readonly [K in `${C}-insecure`]: BooleanFlag;
};

/** Envoy's client side of mutual TLS from files: --C-cert/-key/-ca (together), optional -sni/-san; or --C-insecure. */
export function mutualTlsFlags<C extends Connection>(connection: C): MutualTlsFlags<C> {
  const flags: Record<string, StringFlag | BooleanFlag> = { [`${connection}-insecure`]: { type: 'boolean' } };
  for (const part of FILE_PARTS) flags[`${connection}-${part}`] = { type: 'string' };
  return flags as MutualTlsFlags<C>;
}

/** In a mesh the certificates come from Istio's SDS: --C-identity (the SPIFFE identity to expect) or --C-insecure. */
export function meshFlags<C extends Connection>(connection: C): MeshFlags<C> {
  return {
    [`${connection}-identity`]: { type: 'string' },
    [`${connection}-insecure`]: { type: 'boolean' },
  } as MeshFlags<C>;
}

/** The mutual TLS settings of --C-cert/-key/-ca/-sni/-san; 'mixed' when some of cert, key and ca are missing. */
export function mutualTlsFrom(
  values: Readonly<Record<string, string | boolean | undefined>>,
  connection: Connection,
): ExtprocClientTls | undefined | 'mixed' {
  const [cert, key, ca, sni, san] = FILE_PARTS.map((part) => {
    const value = values[`${connection}-${part}`];
    return typeof value === 'string' ? value : undefined;
  });
  if ([cert, key, ca, sni, san].every((v) => v === undefined)) return undefined;
  if (cert === undefined || key === undefined || ca === undefined) return 'mixed';
  return { certFile: cert, keyFile: key, caFile: ca, ...(sni ? { sni } : {}), ...(san ? { serviceSan: san } : {}) };
}

/** False (after saying why on stderr) when `value` is present and not a valid address for --flag. */
export function addressOk(
  io: CommandIo,
  flag: string,
  value: string | undefined,
  valid: (value: string) => boolean,
  expected = 'HOST:PORT',
): boolean {
  if (value === undefined || valid(value)) return true;
  io.err.write(`--${flag} expects ${expected}, got '${value}'\n`);
  return false;
}

/** The config of --config (default: the embedded one), or undefined after printing its problems. */
export function loadConfigFlag(
  io: CommandIo,
  flag: string | undefined,
): { readonly file: string; readonly config: ServiceConfig } | undefined {
  const file = flag ?? DEFAULT_CONFIG_PATH;
  const loaded = loadConfigFile(file);
  if (loaded.ok) return { file, config: loaded.config };
  io.err.write(formatProblems(file, loaded.problems) + '\n');
  return undefined;
}

/** The config file as the generated files name it: relative to the repository when it lives there. */
export function sourceName(file: string): string {
  const relative = path.relative(repoRoot(), path.resolve(file));
  return relative.startsWith('..') || path.isAbsolute(relative) ? file : relative;
}
