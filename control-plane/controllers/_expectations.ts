/**
 * Controller expectations, as Kubernetes': after a controller creates or
 * deletes pods, it waits until its informer has seen those changes before
 * counting pods again, so a lagging cache never makes it create twice.
 * Expectations expire after five minutes in case an event was missed.
 *
 * @module
 */

import type { Clock } from "@skiff/api";

const EXPIRY_MS = 5 * 60_000;

interface Expectation {
  adds: number;
  deletes: Set<string>;
  at: number;
}

/** Per-key expected creates (a count) and deletes (pod uids). */
export class Expectations {
  #byKey = new Map<string, Expectation>();
  #clock: Clock;

  /** Creates an empty set of expectations. */
  constructor(clock: Clock) {
    this.#clock = clock;
  }

  /** True when `key` has nothing outstanding (or its expectations expired). */
  satisfied(key: string): boolean {
    const e = this.#byKey.get(key);
    if (!e) return true;
    if ((e.adds <= 0 && e.deletes.size === 0) || this.#clock.now() - e.at > EXPIRY_MS) {
      this.#byKey.delete(key);
      return true;
    }
    return false;
  }

  /** Expects `count` more creates for `key`. */
  expectAdds(key: string, count: number): void {
    const e = this.#get(key);
    e.adds += count;
    e.at = this.#clock.now();
  }

  /** Expects the deletion of these pod uids for `key`. */
  expectDeletes(key: string, uids: string[]): void {
    const e = this.#get(key);
    for (const uid of uids) e.deletes.add(uid);
    e.at = this.#clock.now();
  }

  /** One create was observed (or failed). */
  observeAdd(key: string): void {
    const e = this.#byKey.get(key);
    if (e) e.adds--;
  }

  /** A deletion was observed (or failed). */
  observeDelete(key: string, uid: string): void {
    this.#byKey.get(key)?.deletes.delete(uid);
  }

  /** Forgets `key` (its owner is gone). */
  forget(key: string): void {
    this.#byKey.delete(key);
  }

  #get(key: string): Expectation {
    let e = this.#byKey.get(key);
    if (!e) this.#byKey.set(key, e = { adds: 0, deletes: new Set(), at: this.#clock.now() });
    return e;
  }
}
