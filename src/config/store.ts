// Holds the running config and its resolved topology, and swaps them atomically on reload. A reload that fails
// validation keeps the running config: a typo in production must not take the gateway down.
import { EventEmitter } from 'node:events';
import { readFileSync, watch, type FSWatcher } from 'node:fs';
import path from 'node:path';
import { formatProblems, loadConfigFile, type ConfigResult } from './load.js';
import type { ServiceConfig } from './schema.js';
import { resolveTopology, type Environment, type Topology } from './topology.js';
import { errorMessage, log } from '../telemetry/log.js';

export interface ConfigSnapshot {
  readonly config: ServiceConfig;
  readonly topology: Topology;
  readonly generation: number;
}

export type ReloadOutcome = { ok: true; generation: number } | { ok: false; error: string };

/**
 * A reload must not make every route disappear: an empty file (a truncating editor, a half-written ConfigMap) or a
 * file without routes while the running config has some is rejected like any invalid config. A config that
 * already runs without routes (development, tests) may be reloaded into another one.
 */
function emptiedConfig(file: string, running: ServiceConfig, next: ServiceConfig): string | undefined {
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    // loadConfigFile just read it; a file gone since then is judged by its parsed config alone.
  }
  if (text.split(/\r?\n/).every((line) => line.trim() === '' || line.trimStart().startsWith('#'))) {
    return `${file}: the file is empty; a reload needs a complete config (keeping the running one)`;
  }
  if (next.routes.length === 0 && running.routes.length > 0) {
    return `${file}: routes: the new config has no routes, which would make every model disappear (keeping the running one)`;
  }
  return undefined;
}

export class ConfigStore extends EventEmitter {
  #snapshot: ConfigSnapshot;
  #watcher: FSWatcher | undefined;
  #debounce: NodeJS.Timeout | undefined;

  /**
   * `load` reads the file on reload; the CLI passes one that applies the same listen-address overrides and
   * adjustments as at start, so a reload never moves a listener the command line placed.
   */
  constructor(
    readonly file: string,
    config: ServiceConfig,
    private readonly env: Environment = process.env,
    private readonly load: (file: string) => ConfigResult = loadConfigFile,
  ) {
    super();
    this.#snapshot = { config, topology: resolveTopology(config, env), generation: 1 };
  }

  current(): ConfigSnapshot {
    return this.#snapshot;
  }

  reload(): ReloadOutcome {
    const result = this.load(this.file);
    if (!result.ok) {
      const error = formatProblems(this.file, result.problems);
      log.error('config reload rejected; keeping the running config', { file: this.file, problems: error });
      this.emit('reload', { ok: false, error } satisfies ReloadOutcome);
      return { ok: false, error };
    }
    const emptied = emptiedConfig(this.file, this.#snapshot.config, result.config);
    if (emptied !== undefined) {
      log.error('config reload rejected; keeping the running config', { file: this.file, problems: emptied });
      this.emit('reload', { ok: false, error: emptied } satisfies ReloadOutcome);
      return { ok: false, error: emptied };
    }
    let topology: Topology;
    try {
      topology = resolveTopology(result.config, this.env);
    } catch (err) {
      // Reloads run from a file watcher or a signal handler: a throw here would take the process down.
      const error = `${this.file}: ${errorMessage(err)}`;
      log.error('config reload rejected; keeping the running config', { file: this.file, problems: error });
      this.emit('reload', { ok: false, error } satisfies ReloadOutcome);
      return { ok: false, error };
    }
    const generation = this.#snapshot.generation + 1;
    this.#snapshot = { config: result.config, topology, generation };
    log.info('config reloaded', { file: this.file, generation });
    const outcome: ReloadOutcome = { ok: true, generation };
    this.emit('reload', outcome);
    return outcome;
  }

  /**
   * A config another process already loaded and validated (the cluster primary's reload, src/workers/): swapped in
   * with the primary's generation, so every process reports the same one. Never throws.
   */
  adopt(config: ServiceConfig, generation: number): ReloadOutcome {
    let topology: Topology;
    try {
      topology = resolveTopology(config, this.env);
    } catch (err) {
      const error = `${this.file}: ${errorMessage(err)}`;
      log.error('config update rejected; keeping the running config', { problems: error });
      this.emit('reload', { ok: false, error } satisfies ReloadOutcome);
      return { ok: false, error };
    }
    this.#snapshot = { config, topology, generation };
    const outcome: ReloadOutcome = { ok: true, generation };
    this.emit('reload', outcome);
    return outcome;
  }

  /** Reload on SIGHUP and when the file changes (watching the directory survives editors that replace files). */
  watch(): void {
    const dir = path.dirname(this.file);
    const base = path.basename(this.file);
    this.#watcher = watch(dir, (_event, name) => {
      if (name !== null && name !== base) return;
      clearTimeout(this.#debounce);
      this.#debounce = setTimeout(() => this.reload(), 100);
    });
    process.on('SIGHUP', this.#onSighup);
  }

  readonly #onSighup = (): void => {
    this.reload();
  };

  close(): void {
    this.#watcher?.close();
    clearTimeout(this.#debounce);
    process.off('SIGHUP', this.#onSighup);
  }
}
