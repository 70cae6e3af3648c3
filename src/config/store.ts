// Holds the running config and its resolved topology, and swaps them atomically on reload. A reload that fails
// validation keeps the running config: a typo in production must not take the gateway down.
import { EventEmitter } from 'node:events';
import { watch, type FSWatcher } from 'node:fs';
import path from 'node:path';
import { formatProblems, loadConfigFile } from './load.js';
import type { ServiceConfig } from './schema.js';
import { resolveTopology, type Environment, type Topology } from './topology.js';
import { errorMessage, log } from '../telemetry/log.js';

export interface ConfigSnapshot {
  readonly config: ServiceConfig;
  readonly topology: Topology;
  readonly generation: number;
}

export type ReloadOutcome = { ok: true; generation: number } | { ok: false; error: string };

export class ConfigStore extends EventEmitter {
  #snapshot: ConfigSnapshot;
  #watcher: FSWatcher | undefined;
  #debounce: NodeJS.Timeout | undefined;

  constructor(
    readonly file: string,
    config: ServiceConfig,
    private readonly env: Environment = process.env,
  ) {
    super();
    this.#snapshot = { config, topology: resolveTopology(config, env), generation: 1 };
  }

  current(): ConfigSnapshot {
    return this.#snapshot;
  }

  reload(): ReloadOutcome {
    const result = loadConfigFile(this.file);
    if (!result.ok) {
      const error = formatProblems(this.file, result.problems);
      log.error('config reload rejected; keeping the running config', { file: this.file, problems: error });
      this.emit('reload', { ok: false, error } satisfies ReloadOutcome);
      return { ok: false, error };
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
