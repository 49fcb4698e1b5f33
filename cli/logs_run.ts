/**
 * What `skiff logs` does: picks the pod and container, then streams
 * `GET /api/v1/namespaces/<ns>/pods/<name>/log` to standard output.
 *
 * @module
 */

import type { Command } from "commander";
import type { CliContext } from "./_context.ts";
import { pickContainer, resolvePod } from "./_pods.ts";

/** Options of {@linkcode runLogs}. */
export interface LogsOptions {
  /** `-c`. */
  container?: string;
  /** `-f`. */
  follow: boolean;
  /** `--tail`; -1 for all. */
  tail: number;
  /** `-p`. */
  previous: boolean;
  /** `--timestamps`. */
  timestamps: boolean;
  /** `--since`, in ms. */
  sinceMs?: number;
}

/** Runs `skiff logs`. */
export async function runLogs(ctx: CliContext, command: Command, podArg: string, options: LogsOptions): Promise<void> {
  const conn = await ctx.connect(command);
  const pod = await resolvePod(ctx, conn, podArg);
  const container = pickContainer(ctx, pod, options.container);
  const path = conn.client.kind("v1", "Pod").path(pod.metadata.namespace, pod.metadata.name, "log");
  let res: Response;
  try {
    res = await conn.client.request("GET", path, {
      accept: "text/plain, */*",
      query: {
        container,
        ...(options.follow ? { follow: true } : {}),
        ...(options.tail >= 0 ? { tailLines: options.tail } : {}),
        ...(options.previous ? { previous: true } : {}),
        ...(options.timestamps ? { timestamps: true } : {}),
        ...(options.sinceMs !== undefined ? { sinceSeconds: Math.max(1, Math.ceil(options.sinceMs / 1000)) } : {}),
      },
      ...(ctx.io.signal ? { signal: ctx.io.signal } : {}),
    });
  } catch (err) {
    if (ctx.io.signal?.aborted) return;
    throw err;
  }
  if (!res.body) return;
  const reader = res.body.getReader();
  try {
    for (;;) {
      let chunk;
      try {
        chunk = await reader.read();
      } catch (err) {
        if (ctx.io.signal?.aborted) return;
        throw err;
      }
      if (chunk.done) return;
      ctx.io.stdout.write(chunk.value);
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
}
