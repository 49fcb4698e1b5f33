/**
 * `GET /containerLogs/<namespace>/<pod>/<container>`: a container's output
 * from its CRI-format log files (rotated ones included), as the kubelet
 * serves it. Query: `follow` (stream new output until the container ends
 * or the client goes), `tailLines`, `limitBytes`, `sinceSeconds` or
 * `sinceTime`, `timestamps` (each line prefixed with its RFC 3339 time),
 * `previous` (the run before the latest one; the API server asks for the
 * latest run when the container is waiting to restart after its last exit).
 *
 * @module
 */

import type { IncomingMessage, ServerResponse } from "node:http";
import { BadRequestError, NotFoundError } from "@skiff/api";
import { followContainerLog, readContainerLog, type Runtime } from "../runtime/mod.ts";
import { containerRuns } from "./_container_runs.ts";
import { boolParam, intParam, timeParam } from "./_query.ts";

/** A container of a pod: the path of a logs or exec request. */
export interface ContainerPath {
  /** The pod's namespace. */
  namespace: string;
  /** The pod's name. */
  pod: string;
  /** The container's name. */
  container: string;
}

/** How often a followed log is polled for new output, in ms. */
const FOLLOW_POLL_MS = 100;

/** Serves one logs request; throws an ApiError (answered as a Status) before anything is written. */
export async function serveLogs(
  runtime: Runtime,
  where: ContainerPath,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const q = new URL(req.url ?? "/", "https://agent").searchParams;
  const follow = boolParam(q, "follow");
  const previous = boolParam(q, "previous");
  const timestamps = boolParam(q, "timestamps");
  const tailLines = intParam(q, "tailLines", 0);
  const limitBytes = intParam(q, "limitBytes", 1);
  const sinceSeconds = intParam(q, "sinceSeconds", 1);
  const sinceTime = timeParam(q, "sinceTime");
  if (sinceSeconds !== undefined && sinceTime !== undefined) {
    throw new BadRequestError("Invalid log options: at most one of sinceTime or sinceSeconds may be specified");
  }
  const sinceMs = sinceSeconds !== undefined ? Date.now() - sinceSeconds * 1000 : sinceTime;

  const runs = await containerRuns(runtime, where);
  const what = `container "${where.container}" in pod "${where.pod}"`;
  if (runs.length === 0) throw new NotFoundError(`${what} is not available: it has not run on this node`);
  const run = previous ? runs[1] : runs[0];
  if (!run) throw new BadRequestError(`previous terminated ${what} not found`);
  const path = run.info.logPath;
  const options = {
    ...(tailLines !== undefined ? { tailLines } : {}),
    ...(sinceMs !== undefined ? { sinceMs } : {}),
    timestamps,
  };

  if (!follow || !path) {
    // limitBytes counts from the start of what is selected, as Kubernetes reads it.
    const text = path ? await readContainerLog(path, options) : "";
    const all = new TextEncoder().encode(text);
    const body = limitBytes !== undefined && all.byteLength > limitBytes ? all.subarray(0, limitBytes) : all;
    res.writeHead(200, { "content-type": "text/plain; charset=utf-8", "content-length": body.byteLength });
    res.end(body);
    return;
  }

  const abort = new AbortController();
  res.on("close", () => abort.abort());
  res.writeHead(200, { "content-type": "text/plain; charset=utf-8" });
  res.flushHeaders();
  const encoder = new TextEncoder();
  let left = limitBytes ?? Infinity;
  try {
    for await (
      const chunk of followContainerLog(path, {
        ...options,
        signal: abort.signal,
        pollIntervalMs: FOLLOW_POLL_MS,
        stopWhen: async () => {
          const info = await runtime.inspectContainer(run.info.id).catch(() => undefined);
          return info === undefined || info.state === "exited";
        },
      })
    ) {
      let bytes = encoder.encode(chunk);
      if (bytes.byteLength > left) bytes = bytes.subarray(0, left);
      left -= bytes.byteLength;
      if (!res.write(bytes)) {
        await new Promise<void>((resolve) => {
          res.once("drain", resolve);
          res.once("close", resolve);
        });
      }
      if (left <= 0 || abort.signal.aborted) break;
    }
  } finally {
    abort.abort();
    res.end();
  }
}
