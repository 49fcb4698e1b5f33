/**
 * The scheduler benchmark's control-plane process, so its CPU time and RSS
 * are its own: starts a control plane on loopback, prints one JSON line
 * `{ url, kubeconfig }`, then obeys JSON-line commands on stdin, answering
 * each with one JSON line on stdout:
 *
 * - `{ "cmd": "start" }`: starts the controller manager with the scheduler
 *   and every default controller, as the control plane runs them, and
 *   answers `{ "started": true, "syncMs": … }` once its informers have
 *   synced;
 * - `{ "cmd": "memory" }`: answers with `Deno.memoryUsage()`, and `liveHeap`:
 *   the heap used after a full collection (when run with `--expose-gc`);
 * - `{ "cmd": "wait-bound", "count": N }`: answers once the scheduler has
 *   bound N pods: `{ "bound": N, "seconds": … since start, "bindSeconds":
 *   … from first to last binding, "stats": … }`.
 *
 * SIGTERM, SIGINT or the end of stdin shut it down gracefully (so a
 * `--cpu-prof` profile is written) and end the process.
 *
 * `deno run -A bench/_scheduler_server.ts <data-dir>`
 *
 * @module
 */

import { startControlPlane, SYSTEM_USER } from "../control-plane/mod.ts";
import { ApiClient } from "../client/mod.ts";
import { ControllerManager, defaultControllers } from "../control-plane/controllers/mod.ts";
import { Scheduler } from "../control-plane/scheduler/mod.ts";

const dataDir = Deno.args[0];
if (!dataDir) {
  console.error("Missing data dir: usage: deno run -A bench/_scheduler_server.ts <data-dir>");
  Deno.exit(2);
}
const plane = await startControlPlane({ dataDir, port: 0, bind: "127.0.0.1", log: () => {} });
const client = new ApiClient({ server: "https://in-process", transport: plane.handler.as(SYSTEM_USER) });
const scheduler = new Scheduler();
let manager: ControllerManager | undefined;
let startedAt = 0;

const send = (line: unknown) => console.log(JSON.stringify(line));
send({ url: plane.url, kubeconfig: plane.kubeconfigPath });

const stop = async () => {
  await manager?.stop();
  await plane.stop();
  Deno.exit(0);
};
Deno.addSignalListener("SIGTERM", stop);
Deno.addSignalListener("SIGINT", stop);

async function waitBound(count: number): Promise<void> {
  while (scheduler.stats.bound < count) await new Promise((resolve) => setTimeout(resolve, 5));
  const stats = scheduler.stats;
  send({
    bound: stats.bound,
    seconds: (stats.lastBoundAt! - startedAt) / 1000,
    bindSeconds: (stats.lastBoundAt! - stats.firstBoundAt!) / 1000,
    stats,
  });
}

let buffer = "";
for await (const chunk of Deno.stdin.readable.pipeThrough(new TextDecoderStream())) {
  buffer += chunk;
  let nl;
  while ((nl = buffer.indexOf("\n")) >= 0) {
    const command = JSON.parse(buffer.slice(0, nl)) as { cmd: string; count?: number };
    buffer = buffer.slice(nl + 1);
    if (command.cmd === "start") {
      startedAt = performance.now();
      manager = new ControllerManager({
        client,
        controllers: [scheduler, ...defaultControllers()],
        identity: "bench",
        leaderElection: false,
        log: (line) => console.error(line),
      });
      manager.start();
      await manager.synced;
      send({ started: true, syncMs: performance.now() - startedAt });
    } else if (command.cmd === "memory") {
      const before = Deno.memoryUsage();
      (globalThis as { gc?: () => void }).gc?.();
      send({ ...before, liveHeap: Deno.memoryUsage().heapUsed });
    } else if (command.cmd === "wait-bound") {
      waitBound(command.count ?? 0);
    } else {
      console.error(`Unknown command ${JSON.stringify(command)}: expected start, memory or wait-bound`);
    }
  }
}
// The bench closed our stdin (it ended, or died): stop too.
await stop();
