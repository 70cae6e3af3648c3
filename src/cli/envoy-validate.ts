// `llm-extproc envoy-validate FILE…`: decode Envoy YAML (bootstrap or Istio EnvoyFilter) strictly against the
// Envoy protos. Errors go to stderr as FILE:LINE:COL: path: message (the shape editors and CI annotate).
import { validateEnvoyFile, type FileIssue } from '../envoyconfig/files.js';

export interface Output {
  write(text: string): unknown;
}

function formatIssue(file: string, issue: FileIssue): string {
  const where = issue.position ? `${file}:${issue.position.line}:${issue.position.col}` : file;
  const path = issue.path ? `${issue.path}: ` : '';
  const level = issue.severity === 'warning' ? 'warning: ' : '';
  return `${where}: ${path}${level}${issue.message}`;
}

/** Exit code: 0 all valid, 1 some file has errors, 2 no files or a file could not be read. */
export async function envoyValidateCommand(
  files: string[],
  io: { out: Output; err: Output } = { out: process.stdout, err: process.stderr },
): Promise<number> {
  if (files.length === 0) {
    io.err.write('usage: llm-extproc envoy-validate FILE...\n');
    return 2;
  }
  let code = 0;
  for (const file of files) {
    let result;
    try {
      result = await validateEnvoyFile(file);
    } catch (err) {
      io.err.write(`${file}: cannot read: ${err instanceof Error ? err.message : String(err)}\n`);
      code = 2;
      continue;
    }
    for (const issue of result.issues) io.err.write(`${formatIssue(file, issue)}\n`);
    if (result.issues.some((i) => i.severity === 'error')) code = Math.max(code, 1);
    else io.out.write(`${file}: ok (${result.description})\n`);
  }
  return code;
}
