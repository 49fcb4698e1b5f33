/**
 * The in-memory key index, as etcd's mvcc keeps one: for each key, the
 * revisions of its changes that are still in history, in a sorted tree. The
 * log on disk is keyed by revision only, so a write appends to one place and
 * touches no secondary index; reads find revisions here and fetch rows by
 * primary key. The index is rebuilt from the log when the store opens.
 *
 * @module
 */

import { type BTree, newBTree } from "./_btree.ts";

/** One key's history: revisions ascending, a negative one marks a delete. */
interface History {
  revs: number[];
  lease: number;
}

/** The state of a live key at the head. */
export interface HeadState {
  /** The revision of the key's last write. */
  revision: number;
  /** The lease the key is attached to, or 0. */
  lease: number;
}

/** Sorted index of keys to the revisions of their changes. */
export class KeyIndex {
  #tree: BTree<string, History> = newBTree<string, History>();
  #leases = new Map<number, Set<string>>();
  #live = 0;

  /** How many keys are live at the head. */
  get size(): number {
    return this.#live;
  }

  /** The head state of `key`, or undefined if it does not exist now. */
  head(key: string): HeadState | undefined {
    const h = this.#tree.get(key);
    if (!h) return undefined;
    const last = h.revs[h.revs.length - 1]!;
    return last > 0 ? { revision: last, lease: h.lease } : undefined;
  }

  /** The revision holding `key`'s value at `revision`, or undefined if it did not exist then. */
  at(key: string, revision: number): number | undefined {
    const h = this.#tree.get(key);
    return h ? stateAt(h.revs, revision) : undefined;
  }

  /** Records a create or update of `key` at `revision`. */
  put(key: string, revision: number, lease: number): void {
    let h = this.#tree.get(key);
    if (!h) {
      h = { revs: [], lease: 0 };
      this.#tree.set(key, h);
    }
    const last = h.revs[h.revs.length - 1];
    if (last === undefined || last < 0) this.#live++;
    if (h.lease !== 0) this.#leases.get(h.lease)?.delete(key);
    h.revs.push(revision);
    h.lease = lease;
    if (lease !== 0) {
      let keys = this.#leases.get(lease);
      if (!keys) this.#leases.set(lease, keys = new Set());
      keys.add(key);
    }
  }

  /** Records a delete of `key` at `revision`. */
  remove(key: string, revision: number): void {
    const h = this.#tree.get(key);
    if (!h) return;
    const last = h.revs[h.revs.length - 1];
    if (last !== undefined && last > 0) this.#live--;
    if (h.lease !== 0) this.#leases.get(h.lease)?.delete(key);
    h.lease = 0;
    h.revs.push(-revision);
  }

  /** The live keys attached to `lease`. */
  keysOfLease(lease: number): string[] {
    return [...this.#leases.get(lease) ?? []].sort();
  }

  /** Forgets a lease's key set (after the lease is gone). */
  dropLease(lease: number): void {
    this.#leases.delete(lease);
  }

  /**
   * Visits keys in `[start, end)` (or `(start, end)` when `exclusive`) that
   * exist at `revision`, in key order, with the revision holding each value.
   * Stops when `visit` returns false.
   */
  range(
    bounds: { start: string; exclusive: boolean; end: string | undefined; revision: number },
    visit: (key: string, revision: number) => boolean | void,
  ): void {
    for (const [key, h] of this.#tree.entries(bounds.start)) {
      if (bounds.end !== undefined && key >= bounds.end) return;
      if (bounds.exclusive && key === bounds.start) continue;
      const rev = stateAt(h.revs, bounds.revision);
      if (rev !== undefined && visit(key, rev) === false) return;
    }
  }

  /**
   * Drops history at and below `revision`: keeps, for each key, only the
   * newest change at or below it (none if that was a delete) and later ones.
   */
  compact(revision: number): void {
    const empty: string[] = [];
    this.#tree.forEachPair((key, h) => {
      const revs = h.revs;
      let keep = -1;
      for (let i = revs.length - 1; i >= 0; i--) {
        if (Math.abs(revs[i]!) <= revision) {
          keep = i;
          break;
        }
      }
      if (keep < 0) return;
      if (revs[keep]! < 0) keep++;
      if (keep > 0) h.revs = revs.slice(keep);
      if (h.revs.length === 0) empty.push(key);
    });
    for (const key of empty) this.#tree.delete(key);
  }
}

function stateAt(revs: number[], revision: number): number | undefined {
  for (let i = revs.length - 1; i >= 0; i--) {
    const r = revs[i]!;
    if (Math.abs(r) <= revision) return r > 0 ? r : undefined;
  }
  return undefined;
}
