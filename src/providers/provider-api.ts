// What a provider says about its backends before any translation: its config fragment, where it lives, how it
// takes a key and which other credentials it needs. Each provider folder has one (`api.ts`); the config schema and
// the topology read them through providers/apis.ts, so adding a provider edits no switch in config/ or cli/.
import { z } from 'zod';
import { backendFields } from '../config/backend-fields.js';
import type { CredentialSource } from '../credentials/types.js';

/** A config problem zod's object schema cannot express, at a path below the backend's entry. */
interface BackendProblem {
  readonly path: ReadonlyArray<string | number>;
  readonly message: string;
}

/** The part of a provider description that reads a parsed backend config. */
export interface BackendRules<Config> {
  /** Header carrying the API key when the config does not say (`authorization` sends `Bearer <key>`). */
  readonly apiKeyHeader: string;
  /** Base URL when the config names none; undefined where only the deployment knows it (the config must say). */
  defaultBaseUrl(config: Config): string | undefined;
  /** Credentials beyond the API key, by role. */
  credentials?(config: Config): readonly CredentialSource[];
  /** Checks across fields, reported like schema errors. */
  problems?(config: Config): readonly BackendProblem[];
  /**
   * The smallest entry of this kind the schema accepts besides `name` and `provider` (credentials named, never
   * given), e.g. for `llm-extproc translate` without a config file.
   */
  readonly example: Readonly<Record<string, unknown>>;
}

export interface ProviderApi<Schema extends z.ZodObject> extends BackendRules<z.output<Schema>> {
  /** The backend entry: backendFields plus the provider's own, with `provider` as the literal discriminator. */
  readonly schema: Schema;
}

/** A provider whose backends have only the common fields, one fixed endpoint and one key header. */
export function plainProviderApi<const Kind extends string>(
  kind: Kind,
  endpoint: { readonly baseUrl: string; readonly apiKeyHeader: string; readonly apiKeyEnv: string },
) {
  const schema = z.strictObject({ ...backendFields, provider: z.literal(kind) });
  const api: ProviderApi<typeof schema> = {
    schema,
    apiKeyHeader: endpoint.apiKeyHeader,
    defaultBaseUrl: () => endpoint.baseUrl,
    example: { apiKeyEnv: endpoint.apiKeyEnv },
  };
  return api;
}
