/**
 * The `sorted-btree` package's BTree class. The package is CommonJS with an
 * `__esModule` default export, which Deno exposes one level deeper.
 *
 * @module
 */

import * as sortedBtree from "sorted-btree";

type BTreeClass = typeof sortedBtree.default.default;
const exported = sortedBtree.default as unknown as { default?: BTreeClass };
const BTreeImpl: BTreeClass = exported.default ?? (sortedBtree.default as unknown as BTreeClass);

/** Creates an empty sorted map backed by a B+ tree. */
export function newBTree<K, V>() {
  return new BTreeImpl<K, V>();
}

/** A sorted map backed by a B+ tree. */
export type BTree<K, V> = ReturnType<typeof newBTree<K, V>>;
