// Throwaway PKI for tests: a CA, a server certificate and client certificates, made with the `openssl` CLI in a
// temporary directory (node:crypto cannot sign X.509). Never used outside tests.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

export interface TestCert {
  readonly certFile: string;
  readonly keyFile: string;
}

export interface TestPki {
  readonly dir: string;
  readonly caFile: string;
  readonly server: TestCert;
  /** Client certificates by name. */
  readonly clients: Readonly<Record<string, TestCert>>;
  /** Another CA with a client certificate carrying an allowed identity: must still be refused. */
  readonly foreign: TestCert & { readonly caFile: string };
  remove(): void;
}

export interface TestPkiOptions {
  /** Client certificate name → its SAN list in openssl notation, e.g. `URI:spiffe://test/envoy`. */
  readonly clients: Readonly<Record<string, string>>;
  /** Server SANs. Default DNS:llm-extproc.test, IP:127.0.0.1. */
  readonly serverSans?: string;
}

function openssl(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

function makeCa(dir: string, name: string): string {
  openssl(dir, [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-keyout',
    `${name}.key`,
    '-out',
    `${name}.crt`,
    '-subj',
    `/CN=${name}`,
    '-days',
    '2',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  return path.join(dir, `${name}.crt`);
}

function makeLeaf(dir: string, ca: string, name: string, sans: string): TestCert {
  openssl(dir, [
    'req',
    '-new',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-keyout',
    `${name}.key`,
    '-out',
    `${name}.csr`,
    '-subj',
    `/CN=${name}/O=llm-extproc-test`,
  ]);
  writeFileSync(
    path.join(dir, `${name}.ext`),
    `basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=${sans}\n`,
  );
  openssl(dir, [
    'x509',
    '-req',
    '-in',
    `${name}.csr`,
    '-CA',
    `${ca}.crt`,
    '-CAkey',
    `${ca}.key`,
    '-CAcreateserial',
    '-out',
    `${name}.crt`,
    '-days',
    '2',
    '-extfile',
    `${name}.ext`,
  ]);
  return { certFile: path.join(dir, `${name}.crt`), keyFile: path.join(dir, `${name}.key`) };
}

export function makeTestPki(options: TestPkiOptions): TestPki {
  const dir = mkdtempSync(path.join(tmpdir(), 'llm-extproc-pki-'));
  const caFile = makeCa(dir, 'ca');
  const server = makeLeaf(dir, 'ca', 'server', options.serverSans ?? 'DNS:llm-extproc.test,IP:127.0.0.1');
  const clients = Object.fromEntries(
    Object.entries(options.clients).map(([name, sans]) => [name, makeLeaf(dir, 'ca', name, sans)]),
  );
  const foreignCa = makeCa(dir, 'foreign-ca');
  const firstSans = Object.values(options.clients)[0] ?? 'DNS:foreign.test';
  const foreign = { ...makeLeaf(dir, 'foreign-ca', 'foreign', firstSans), caFile: foreignCa };
  return { dir, caFile, server, clients, foreign, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
