// What a provider declares about its credentials and what a translator is handed for one attempt. Types only, so
// provider descriptors, the topology and the translators can all name them without depending on each other.
import type { Secret } from '../util/secret.js';

/**
 * Where one credential (beyond the API key) comes from, by the role a translator asks for it under:
 * an environment variable read with the config (a missing required one disables the backend), or a file
 * re-read per attempt when it changes (a projected token a sidecar rotates).
 */
export type CredentialSource =
  | { readonly role: string; readonly env: string; readonly required: boolean }
  | { readonly role: string; readonly file: string; readonly label: string };

export type FileCredentialSource = Extract<CredentialSource, { readonly file: string }>;

/** The credentials of one attempt, resolved before buildRequest runs: translators never read env or files. */
export interface AttemptCredentials {
  readonly apiKey: Secret | undefined;
  /** By role, e.g. AWS `accessKeyId`, `secretAccessKey`, `sessionToken`; Vertex `accessToken`. */
  readonly roles: ReadonlyMap<string, Secret>;
}

/** A backend's credentials as the topology resolved them: what is read once with the config, and what per attempt. */
export interface BackendCredentials {
  readonly apiKey: Secret | undefined;
  /** Roles read from the environment with the config (e.g. AWS `accessKeyId`, Vertex `accessToken`). */
  readonly credentials: ReadonlyMap<string, Secret>;
  /** Roles read from files per attempt (a file a sidecar rotates). */
  readonly credentialFiles: readonly FileCredentialSource[];
}
