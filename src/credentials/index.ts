// Credentials are resolved here and handed to the translators, which stay pure (data in, data out) and never read
// the environment or a file. Two moments: with the config (API keys and other variables from the environment; a
// missing required one disables the backend), and per attempt (token files, re-read only when they change). A
// future source (a cloud metadata server, a workload-identity exchange) is another branch of `CredentialSource`
// resolved here, not code in a provider.
import { Secret } from '../util/secret.js';
import { TokenFileReader } from './token-file.js';
import type { AttemptCredentials, BackendCredentials, CredentialSource, FileCredentialSource } from './types.js';

/** Resolved from the environment with the config; `missing` names the unset variables a backend needs. */
export interface EnvironmentCredentials extends BackendCredentials {
  readonly missing: readonly string[];
}

/** The API key (when the backend names a variable for it) and every other credential source of the backend. */
export function credentialsFromEnvironment(
  apiKeyEnv: string | undefined,
  sources: readonly CredentialSource[],
  env: Readonly<Record<string, string | undefined>>,
): EnvironmentCredentials {
  const missing: string[] = [];
  const keyValue = apiKeyEnv === undefined ? undefined : env[apiKeyEnv];
  if (apiKeyEnv !== undefined && !keyValue) missing.push(apiKeyEnv);
  const credentials = new Map<string, Secret>();
  const credentialFiles: FileCredentialSource[] = [];
  for (const source of sources) {
    if ('file' in source) {
      credentialFiles.push(source);
      continue;
    }
    const value = env[source.env];
    if (value) credentials.set(source.role, new Secret(value));
    else if (source.required) missing.push(source.env);
  }
  return { apiKey: keyValue ? new Secret(keyValue) : undefined, credentials, credentialFiles, missing };
}

/** One reader for the process, so an unchanged token file is served from its cache across attempts. */
const tokenFiles = new TokenFileReader();

/**
 * The credentials of one attempt. Throws (naming the file, never its content) when a token file cannot be read;
 * the upstream stage fails the attempt.
 */
export function attemptCredentials(
  backend: BackendCredentials,
  files: TokenFileReader = tokenFiles,
): AttemptCredentials {
  if (backend.credentialFiles.length === 0) return { apiKey: backend.apiKey, roles: backend.credentials };
  const roles = new Map(backend.credentials);
  for (const source of backend.credentialFiles)
    roles.set(source.role, new Secret(files.read(source.file, source.label)));
  return { apiKey: backend.apiKey, roles };
}
