/**
 * Waiting for a condition without sleeping as synchronisation: poll a probe
 * until it gives a value, and fail with what was awaited and the last
 * answer when it takes too long.
 *
 * @module
 */

import { sleep } from "./_run.ts";

/** Options for {@linkcode eventually}. */
export interface EventuallyOptions {
  /** Give up after this many milliseconds (default 60000). */
  timeoutMs?: number;
  /** Milliseconds between probes (default 200). */
  intervalMs?: number;
}

/**
 * Calls `probe` until it returns something other than `undefined` or
 * `false`, and returns that. A probe that throws counts as not yet.
 *
 * @example
 * ```ts
 * const pod = await eventually("pod web Running", async () => {
 *   const pod = await pods.get("web", { namespace: "default" });
 *   return pod.status?.phase === "Running" ? pod : undefined;
 * });
 * ```
 * @throws {Error} after the timeout, naming `what` and the last error or value the probe gave.
 */
export async function eventually<T>(
  what: string,
  probe: () => Promise<T | undefined | false> | T | undefined | false,
  options: EventuallyOptions = {},
): Promise<T> {
  const timeoutMs = options.timeoutMs ?? 60_000;
  const deadline = Date.now() + timeoutMs;
  let last = "it never answered";
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value;
      last = `it last answered ${String(value)}`;
    } catch (error) {
      last = `it last failed: ${error instanceof Error ? error.message : String(error)}`;
    }
    if (Date.now() >= deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}; ${last}`);
    await sleep(Math.min(options.intervalMs ?? 200, Math.max(0, deadline - Date.now())));
  }
}
