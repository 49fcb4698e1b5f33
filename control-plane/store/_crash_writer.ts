/**
 * Child process of the crash test: writes as fast as it can with concurrent
 * writers and prints one line per acknowledged write, until it is killed.
 *
 * Usage: deno run -A _crash_writer.ts DB_PATH SEED
 *
 * @module
 */

import { ConflictError } from "@skiff/api";
import { openSqliteStore } from "./sqlite_store.ts";

const [path, seedText] = Deno.args;
if (!path) throw new TypeError("Usage: _crash_writer.ts DB_PATH SEED");
const seed = Number(seedText ?? 1);
const store = openSqliteStore({ path, compaction: false });
const encoder = new TextEncoder();

function ack(line: string): void {
  const bytes = encoder.encode(line + "\n");
  let written = 0;
  while (written < bytes.length) written += Deno.stdout.writeSync(bytes.subarray(written));
}

async function writer(id: number): Promise<never> {
  let n = 0;
  for (;;) {
    n++;
    const key = `/crash/${id}/${n % 7}`;
    const value = `${seed}:${id}:${n}`;
    const existing = await store.get(key);
    try {
      const result = existing
        ? await store.update(key, value, { expectedRevision: existing.modRevision })
        : await store.create(key, value);
      ack(`ack ${key} ${result.revision} ${value}`);
    } catch (err) {
      if (!(err instanceof ConflictError)) throw err;
    }
    if (id === 0 && n % 200 === 0 && store.currentRevision() > 600) {
      await store.compact(store.currentRevision() - 500);
      ack(`compacted ${store.compactRevision()}`);
    }
  }
}

ack("ready");
await Promise.all(Array.from({ length: 16 }, (_, i) => writer(i)));
