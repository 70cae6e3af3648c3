// Transport security for the service's listeners: the TLS options schema (the same shape for the ext_proc port, the
// admin port and, later, the xDS listener), mutual TLS credentials for grpc-js with certificate files re-read when
// they change, and the client-identity allowlist (SPIFFE URI SANs, DNS SANs or subjects) checked on every call.
// Why: the ext_proc port hands out provider credentials and charges tenants; only Envoy may talk to it.
import { readFileSync } from 'node:fs';
import { createHash, timingSafeEqual, X509Certificate } from 'node:crypto';
import { createSecureContext, type PeerCertificate } from 'node:tls';
import { z } from 'zod';
import * as grpc from '@grpc/grpc-js';
import { experimental } from '@grpc/grpc-js';

/**
 * An allowed client identity: a URI SAN (`spiffe://trust-domain/ns/…/sa/…`, any `scheme://…`), `dns:NAME` (a DNS
 * SAN) or `subject:CN=…,O=…` (the whole subject, attributes in certificate order joined by commas).
 */
export const clientIdentitySchema = z
  .string()
  .regex(
    /^([a-z][a-z0-9+.-]*:\/\/\S+|dns:\S+|subject:.+)$/,
    'expected a URI SAN (spiffe://…), dns:NAME or subject:CN=…',
  );

export const tlsOptionsSchema = z.strictObject({
  /** PEM server certificate chain. */
  certFile: z.string().min(1),
  /** PEM private key of certFile. */
  keyFile: z.string().min(1),
  /** PEM CA bundle client certificates must chain to (mutual TLS). */
  clientCaFile: z.string().min(1),
  /** Client identities allowed to call; any other verified certificate is refused. */
  allowedClients: z.array(clientIdentitySchema).min(1),
  /** How often the three files are re-read (rotation by cert-manager, SPIFFE helpers, Kubernetes secrets). */
  refreshIntervalMs: z.number().int().min(100).default(60_000),
});
export type TlsOptions = z.infer<typeof tlsOptionsSchema>;

/** 127.0.0.0/8, ::1 and localhost: reachable only from this host (or pod). */
export function isLoopbackHost(host: string): boolean {
  const bare = host.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  return (
    bare === 'localhost' ||
    bare === '::1' ||
    /^127(\.\d{1,3}){3}$/.test(bare) ||
    /^::ffff:127(\.\d{1,3}){3}$/.test(bare)
  );
}

/** PEM contents of the three files. */
export interface TlsMaterial {
  readonly cert: Buffer;
  readonly key: Buffer;
  readonly ca: Buffer;
}

/** Reads and checks the TLS files now, so a wrong path or a key that does not match its certificate stops the start. */
export function loadTlsMaterial(tls: TlsOptions): TlsMaterial {
  const read = (what: string, file: string): Buffer => {
    try {
      return readFileSync(file);
    } catch (err) {
      throw new Error(`TLS ${what} ${file}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
  };
  const material = {
    cert: read('certFile', tls.certFile),
    key: read('keyFile', tls.keyFile),
    ca: read('clientCaFile', tls.clientCaFile),
  };
  try {
    createSecureContext(material);
  } catch (err) {
    throw new Error(
      `TLS files ${tls.certFile} / ${tls.keyFile} / ${tls.clientCaFile} are unusable: ${err instanceof Error ? err.message : String(err)}`,
      { cause: err },
    );
  }
  return material;
}

/** Splits Node's subjectAltName text (`DNS:a, URI:spiffe://x`; values with special characters come JSON-quoted). */
function parseSubjectAltName(text: string): Array<{ type: string; value: string }> {
  const entries: Array<{ type: string; value: string }> = [];
  const pattern = /([A-Za-z ]+):("(?:[^"\\]|\\.)*"|[^,]*)(?:, |$)/g;
  for (const match of text.matchAll(pattern)) {
    const [, type = '', raw = ''] = match;
    let value = raw;
    if (raw.startsWith('"')) {
      try {
        value = String(JSON.parse(raw));
      } catch {
        continue;
      }
    }
    entries.push({ type: type.trim(), value });
  }
  return entries;
}

/** Every identity a client certificate claims, in the allowlist's notation. */
export function certificateIdentities(raw: Buffer): string[] {
  const cert = new X509Certificate(raw);
  const identities: string[] = [];
  for (const { type, value } of parseSubjectAltName(cert.subjectAltName ?? '')) {
    if (type === 'URI') identities.push(value);
    else if (type === 'DNS') identities.push(`dns:${value}`);
  }
  identities.push(`subject:${cert.subject.split('\n').join(',')}`);
  return identities;
}

export type ClientCheck = { ok: true; identity: string } | { ok: false; reason: string };

/** Whether a peer certificate (already verified against the CA by TLS) names an allowed client. */
export function checkClient(peer: PeerCertificate | undefined, allowed: readonly string[]): ClientCheck {
  if (!peer?.raw) return { ok: false, reason: 'no verified client certificate' };
  const identities = certificateIdentities(peer.raw);
  const identity = identities.find((id) => allowed.includes(id));
  return identity
    ? { ok: true, identity }
    : { ok: false, reason: `client ${identities.join(' ')} is not in allowedClients` };
}

/**
 * A grpc-js interceptor refusing every call (any service on the port, health included) whose connection has no
 * verified client certificate naming an allowed identity: UNAUTHENTICATED without a certificate, PERMISSION_DENIED
 * for one not allowed. The handler never runs for a refused call.
 */
export function clientAllowlistInterceptor(
  allowed: readonly string[],
  onRefused?: (reason: string, method: string) => void,
): grpc.ServerInterceptor {
  return (method, call) => {
    const context = call.getAuthContext();
    const check = checkClient(context.sslPeerCertificate, allowed);
    if (check.ok) return new grpc.ServerInterceptingCall(call);
    const code = context.sslPeerCertificate ? grpc.status.PERMISSION_DENIED : grpc.status.UNAUTHENTICATED;
    onRefused?.(check.reason, method.path);
    const listener = new grpc.ServerListenerBuilder()
      .withOnReceiveMetadata(() => call.sendStatus({ code, details: `llm-extproc: ${check.reason}` }))
      .build();
    return new grpc.ServerInterceptingCall(
      call,
      new grpc.ResponderBuilder().withStart((next) => next(listener)).build(),
    );
  };
}

/**
 * The certificate files for grpc-js: read (and checked) synchronously at construction, so the very first connection
 * after bind is served; re-read every refreshIntervalMs while a server uses them, and passed on only when they
 * changed and form a usable whole (mid-rotation, with the key and certificate not both replaced yet, the previous
 * material stays). grpc-js's own FileWatcherCertificateProvider reads asynchronously after bind and drops
 * connections meanwhile, and drops every connection while a rotation is half done.
 */
class FileCertificateProvider implements experimental.CertificateProvider {
  #material: TlsMaterial;
  #digest: string;
  #timer: NodeJS.Timeout | undefined;
  readonly #caListeners = new Set<experimental.CaCertificateUpdateListener>();
  readonly #identityListeners = new Set<experimental.IdentityCertificateUpdateListener>();

  constructor(
    private readonly tls: TlsOptions,
    private readonly onError: (err: unknown) => void,
  ) {
    this.#material = loadTlsMaterial(tls);
    this.#digest = digest(this.#material);
  }

  addCaCertificateListener(listener: experimental.CaCertificateUpdateListener): void {
    this.#caListeners.add(listener);
    this.#start();
    process.nextTick(listener, { caCertificate: this.#material.ca });
  }
  removeCaCertificateListener(listener: experimental.CaCertificateUpdateListener): void {
    this.#caListeners.delete(listener);
    this.#stopIfUnused();
  }
  addIdentityCertificateListener(listener: experimental.IdentityCertificateUpdateListener): void {
    this.#identityListeners.add(listener);
    this.#start();
    process.nextTick(listener, { certificate: this.#material.cert, privateKey: this.#material.key });
  }
  removeIdentityCertificateListener(listener: experimental.IdentityCertificateUpdateListener): void {
    this.#identityListeners.delete(listener);
    this.#stopIfUnused();
  }

  #start(): void {
    this.#timer ??= setInterval(() => this.#refresh(), this.tls.refreshIntervalMs).unref();
  }
  #stopIfUnused(): void {
    if (this.#caListeners.size > 0 || this.#identityListeners.size > 0 || !this.#timer) return;
    clearInterval(this.#timer);
    this.#timer = undefined;
  }
  #refresh(): void {
    let material: TlsMaterial;
    try {
      material = loadTlsMaterial(this.tls);
    } catch (err) {
      this.onError(err);
      return;
    }
    const next = digest(material);
    if (next === this.#digest) return;
    this.#material = material;
    this.#digest = next;
    for (const listener of this.#identityListeners) listener({ certificate: material.cert, privateKey: material.key });
    for (const listener of this.#caListeners) listener({ caCertificate: material.ca });
  }
}

/**
 * Mutual TLS server credentials for grpc-js: client certificates are required and verified against clientCaFile,
 * then the identity is checked against allowedClients on every call. The files are read now (a bad path or a
 * mismatched key stops the start) and re-read every refreshIntervalMs, so rotated certificates apply to new
 * connections without a restart (connections already open keep the old ones).
 */
export function grpcServerCredentials(
  tls: TlsOptions,
  events: { onRefused?: (reason: string, method: string) => void; onFileError?: (err: unknown) => void } = {},
): grpc.ServerCredentials {
  const files = new FileCertificateProvider(tls, events.onFileError ?? (() => undefined));
  // One provider serves both the identity and the CA (grpc-js 1.14 swaps the two parameter names internally).
  const mtls = experimental.createCertificateProviderServerCredentials(files, files, true);
  return experimental.createServerCredentialsWithInterceptors(mtls, [
    clientAllowlistInterceptor(tls.allowedClients, events.onRefused),
  ]);
}

/** Re-reads TLS files every refreshIntervalMs and reports new material (for Node https servers: setSecureContext). */
export function watchTlsFiles(
  tls: TlsOptions,
  onChange: (material: TlsMaterial) => void,
  onError: (err: unknown) => void,
): () => void {
  let last = digest(loadTlsMaterial(tls));
  const timer = setInterval(() => {
    try {
      const material = loadTlsMaterial(tls);
      const next = digest(material);
      if (next === last) return;
      last = next;
      onChange(material);
    } catch (err) {
      onError(err); // mid-rotation (key and certificate not yet both replaced): keep the previous context
    }
  }, tls.refreshIntervalMs);
  timer.unref();
  return () => clearInterval(timer);
}

function digest(material: TlsMaterial): string {
  return createHash('sha256').update(material.cert).update(material.key).update(material.ca).digest('hex');
}

/** Constant-time comparison of a presented bearer token with the expected one (hashes equalise the lengths). */
export function tokenMatches(presented: string, expected: string): boolean {
  const a = createHash('sha256').update(presented).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b) && expected.length > 0;
}
