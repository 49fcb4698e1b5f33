/**
 * A watch over any Accept type: the typed client's `watch()` decodes
 * objects only, while `get -w` also watches Tables (kubectl's columns for
 * each change).
 *
 * @module
 */

import { errorFromStatus } from "@skiff/api";
import type { ApiClient } from "@skiff/client";

/** One event of a raw watch. */
export interface RawWatchEvent {
  /** ADDED, MODIFIED, DELETED or BOOKMARK. */
  type: string;
  /** The object, or a Table of one row. */
  object: Record<string, unknown>;
}

/** Options of {@linkcode watchRaw}. */
export interface RawWatchOptions {
  /** Query parameters besides `watch`. */
  query: Record<string, string | undefined>;
  /** The Accept header. */
  accept?: string;
  /** Ends the watch. */
  signal?: AbortSignal;
}

/**
 * Streams watch events of the collection at `path` until the server ends
 * the stream or the signal aborts. An ERROR event is thrown as its typed
 * error (410 Gone: `CompactedError`).
 */
export async function* watchRaw(
  client: ApiClient,
  path: string,
  options: RawWatchOptions,
): AsyncGenerator<RawWatchEvent> {
  let res: Response;
  try {
    res = await client.request("GET", path, {
      query: { ...options.query, watch: "true" },
      ...(options.accept ? { accept: options.accept } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    });
  } catch (err) {
    if (options.signal?.aborted) return;
    throw err;
  }
  if (!res.body) return;
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  try {
    for (;;) {
      let chunk;
      try {
        chunk = await reader.read();
      } catch (err) {
        if (options.signal?.aborted) return;
        throw err;
      }
      if (chunk.done) return;
      buffer += chunk.value;
      let nl;
      while ((nl = buffer.indexOf("\n")) >= 0) {
        const line = buffer.slice(0, nl).trim();
        buffer = buffer.slice(nl + 1);
        if (!line) continue;
        const event = JSON.parse(line) as RawWatchEvent;
        if (event.type === "ERROR") throw errorFromStatus(event.object);
        yield event;
      }
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
}

/** Resolves after `ms`, or early when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}
