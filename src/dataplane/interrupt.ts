// Interruptions of one HTTP stream: the client going away (Envoy resets the stream and every filter's gRPC
// stream and upstream request), and the route timeout firing. `guard` turns a pending step into a rejection with
// the reason; `onInterrupt` registers the cleanup of a resource (cancel a gRPC stream, abort an upstream request).
export type InterruptReason = 'downstream_remote_disconnect' | 'route_timeout';

export class Interrupted extends Error {
  override readonly name = 'Interrupted';
  constructor(readonly reason: InterruptReason) {
    super(`interrupted: ${reason}`);
  }
}

export class Interrupter {
  private reasonValue: InterruptReason | undefined;
  private readonly listeners = new Set<(reason: InterruptReason) => void>();

  /** An interrupter that also fires when `parent` fires. */
  static childOf(parent: Interrupter): Interrupter {
    const child = new Interrupter();
    const off = parent.onInterrupt((reason) => child.interrupt(reason));
    child.onInterrupt(off);
    return child;
  }

  get reason(): InterruptReason | undefined {
    return this.reasonValue;
  }

  interrupt(reason: InterruptReason): void {
    if (this.reasonValue !== undefined) return;
    this.reasonValue = reason;
    for (const listener of [...this.listeners]) listener(reason);
    this.listeners.clear();
  }

  /** Calls `listener` once on interruption (at once if already interrupted); returns an unsubscribe function. */
  onInterrupt(listener: (reason: InterruptReason) => void): () => void {
    if (this.reasonValue !== undefined) {
      listener(this.reasonValue);
      return () => {};
    }
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  guard<T>(step: Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const off = this.onInterrupt((reason) => reject(new Interrupted(reason)));
      step.then(
        (value) => {
          off();
          resolve(value);
        },
        (error: unknown) => {
          off();
          // The guarded step's own rejection passes through unchanged.
          // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors
          reject(error);
        },
      );
    });
  }

  sleep(ms: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    return this.guard(new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))).finally(() =>
      clearTimeout(timer),
    );
  }
}
