// A value that must never reach logs, metrics, errors or metadata. Every serialisation path prints a placeholder;
// only `reveal()` gives the value, so each use of a secret is explicit and greppable.
import { inspect } from 'node:util';

export class Secret {
  readonly #value: string;
  constructor(value: string) {
    this.#value = value;
  }
  reveal(): string {
    return this.#value;
  }
  toString(): string {
    return '[redacted]';
  }
  toJSON(): string {
    return '[redacted]';
  }
  [inspect.custom](): string {
    return '[redacted]';
  }
}
