// `envoy --mode validate`: the pinned Envoy checks a bootstrap fully (types, extensions, references) without
// serving. Our strict proto decoding (src/envoyconfig) runs against older protos; where they disagree, Envoy wins.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { envoyBinary } from './binary.js';

export interface EnvoyValidation {
  readonly ok: boolean;
  /** Envoy's output (stdout and stderr), for failure messages. */
  readonly output: string;
  /** "Deprecated field" warnings: fields Envoy still accepts but will remove. */
  readonly deprecations: readonly string[];
}

/** Validates a bootstrap (YAML or JSON text) with the pinned Envoy. */
export async function validateWithEnvoy(bootstrap: string): Promise<EnvoyValidation> {
  const binary = await envoyBinary();
  const dir = mkdtempSync(path.join(tmpdir(), 'llm-extproc-validate-'));
  const file = path.join(dir, 'bootstrap.yaml');
  writeFileSync(file, bootstrap);
  try {
    const { code, output } = await new Promise<{ code: number; output: string }>((resolve) => {
      execFile(
        binary,
        ['--mode', 'validate', '-c', file, '--disable-hot-restart', '--log-level', 'warn'],
        { timeout: 60_000 },
        (err, stdout, stderr) => {
          const exit =
            err && typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : err ? 1 : 0;
          resolve({ code: exit, output: `${stdout}${stderr}` });
        },
      );
    });
    const deprecations = output.split('\n').filter((line) => line.includes('Deprecated field'));
    return { ok: code === 0 && /configuration '.*' OK/.test(output), output, deprecations };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
