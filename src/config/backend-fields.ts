// The config fields every backend has, whatever its provider. Each provider's `api.ts` spreads these into its own
// schema fragment; this file imports nothing of the service so that config and providers can both build on it.
import { z } from 'zod';

export const envVarName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'expected an environment variable name');

const headerRecord = z
  .record(z.string(), z.string())
  .default({})
  .transform((headers) =>
    Object.fromEntries(Object.entries(headers).map(([name, value]) => [name.toLowerCase(), value])),
  );

/** Hop-by-hop headers (RFC 9110 §7.6.1 and the usual extras): never forwarded to a provider. */
const HOP_BY_HOP: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

/** Fields every backend has. Provider defaults (base URL, key header) come from the provider's api.ts. */
export const backendFields = {
  /** Unique name; Envoy endpoint metadata refers to a backend by this name. */
  name: z.string().regex(/^[a-z0-9][a-z0-9_.-]*$/, 'lower-case letters, digits, "_", "." and "-"'),
  /** Base URL including any path prefix, e.g. https://api.openai.com/v1. Required where the provider has no default. */
  baseUrl: z.url({ protocol: /^https?$/ }).optional(),
  /** Environment variable holding the API key. Unset variable ⇒ backend disabled. Omit for key-less backends. */
  apiKeyEnv: envVarName.optional(),
  /** Header carrying the key. `authorization` sends `Bearer <key>`; any other header sends the key as is. */
  apiKeyHeader: z.string().toLowerCase().optional(),
  /** Extra static headers sent upstream (never secrets: those belong in apiKeyEnv). */
  headers: headerRecord,
  /**
   * Client request headers forwarded to this backend besides the default allowlist (accept, user-agent,
   * x-request-id, traceparent, tracestate). Every other client header is removed before the request leaves.
   */
  forwardHeaders: z
    .array(
      z
        .string()
        .toLowerCase()
        .regex(/^[a-z0-9!#$%&'*+.^_`|~-]+$/, 'a header name')
        .refine(
          (name) => !/^(x-envoy-|x-llm-extproc-)/.test(name) && !HOP_BY_HOP.has(name),
          'hop-by-hop and internal headers are never forwarded',
        ),
    )
    .default([]),
  /**
   * Request fields this backend cannot honour: `reject` (default) answers 400 naming the field; `drop` leaves the
   * droppable ones out (reported in x-llm-extproc-dropped-params and a metric) and still refuses the rest.
   */
  unsupportedParams: z.enum(['reject', 'drop']).default('reject'),
  /** Envoy priority of this backend's endpoints when a route does not say otherwise. */
  priority: z.number().int().min(0).max(127).default(0),
};
