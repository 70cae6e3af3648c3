// One readiness for every probe: /readyz reads its reasons, the gRPC health service is pushed each change (its
// Watch streams must hear transitions without polling). Draining is one more reason, and it is final.
export class Readiness {
  #draining = false;
  #ready: boolean | undefined;
  readonly #listeners = new Set<(ready: boolean) => void>();

  constructor(private readonly sources: () => string[]) {}

  /** Why the service is not ready; empty when it is. */
  reasons(): string[] {
    return [...(this.#draining ? ['shutting down'] : []), ...this.sources()];
  }

  /** Re-reads the sources; call it wherever one of them may have changed. Listeners hear only changes. */
  refresh(): void {
    const ready = this.reasons().length === 0;
    if (ready === this.#ready) return;
    this.#ready = ready;
    for (const listener of this.#listeners) listener(ready);
  }

  drain(): void {
    this.#draining = true;
    this.refresh();
  }

  /** Calls `listener` now with the current state, then on every change. */
  subscribe(listener: (ready: boolean) => void): void {
    this.#listeners.add(listener);
    listener(this.reasons().length === 0);
  }
}
