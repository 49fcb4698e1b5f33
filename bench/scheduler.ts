/**
 * Scheduler benchmark, with the control plane (API server, store,
 * scheduler, Deployment and ReplicaSet controllers) in its own process and
 * simulated nodes in this one, talking HTTPS:
 *
 * - pods/s scheduled with 1,000 and with 5,000 simulated nodes and 10,000
 *   pending pods (scheduler_perf's workload: create the nodes, create the
 *   pods, start the scheduler, time until all are bound; the simulated nodes
 *   then run the pods, as agents would, during the measurement);
 * - seconds for a 1,000-replica Deployment to be all Running on the
 *   simulated nodes;
 * - the control plane's CPU (share of one core) and RSS with 1,000 nodes
 *   heartbeating every 10 s and nothing else to do, with V8's default
 *   settings and with `--optimize-for-size` (smaller heap, more GC).
 *
 * `deno task bench scheduler [--quick] [--server-cpu-prof=DIR]`
 *
 * `--quick` (under a minute) uses 1,000 pods, a 200-replica Deployment, a
 * 10 s CPU window, 1,500 nodes instead of 5,000, and V8's defaults only;
 * the detail fields say so. `--server-cpu-prof=DIR` runs the control plane under `--cpu-prof`
 * and leaves its profiles in DIR.
 *
 * @module
 */

import { join } from "node:path";
import type { Deployment, Pod } from "../api/mod.ts";
import { ApiClient } from "../client/mod.ts";
import { runSimulatedNodes, type SimulatedNodes } from "../node-agent/sim/mod.ts";
import { quick, report } from "./_report.ts";

const BENCH = "scheduler";
const NAMESPACE = "default";
const flag = (name: string) => Deno.args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const cpuProfDir = flag("server-cpu-prof");

const sizes = {
  pods: quick ? 1_000 : 10_000,
  bigNodes: quick ? 1_500 : 5_000,
  replicas: quick ? 200 : 1_000,
  cpuWindowSeconds: quick ? 10 : 60,
  settleSeconds: quick ? 3 : 15,
};

const SERVER_SCRIPT = new URL("./_scheduler_server.ts", import.meta.url).pathname;
const ROOT_CONFIG = new URL("../deno.json", import.meta.url).pathname;
const CLOCK_TICKS = 100;
/** The control plane's data is thrown away: it gets this long to stop before it is killed (unless profiling). */
const STOP_GRACE_MS = 2000;

/** The control-plane child process and its line protocol. */
class Server {
  readonly pid: number;
  readonly url: string;
  readonly kubeconfig: string;
  #child: Deno.ChildProcess;
  #writer: WritableStreamDefaultWriter<Uint8Array>;
  #lines: AsyncIterator<string>;

  private constructor(
    child: Deno.ChildProcess,
    lines: AsyncIterator<string>,
    first: { url: string; kubeconfig: string },
  ) {
    this.#child = child;
    this.pid = child.pid;
    this.url = first.url;
    this.kubeconfig = first.kubeconfig;
    this.#writer = child.stdin.getWriter();
    this.#lines = lines;
  }

  static async start(dataDir: string, v8Flags: readonly string[] = []): Promise<Server> {
    const profile = cpuProfDir ? ["--cpu-prof", `--cpu-prof-dir=${cpuProfDir}`] : [];
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        `--config=${ROOT_CONFIG}`,
        `--v8-flags=${["--expose-gc", ...v8Flags].join(",")}`,
        ...profile,
        SERVER_SCRIPT,
        dataDir,
      ],
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    const lines = readLines(child.stdout);
    const first = await lines.next();
    if (first.done) throw new Error("The control plane exited before serving: see its errors above");
    return new Server(child, lines, JSON.parse(first.value));
  }

  async ask<T>(command: Record<string, unknown>): Promise<T> {
    await this.#writer.write(new TextEncoder().encode(JSON.stringify(command) + "\n"));
    const answer = await this.#lines.next();
    if (answer.done) throw new Error(`The control plane exited while answering ${JSON.stringify(command)}`);
    return JSON.parse(answer.value) as T;
  }

  /** CPU seconds used so far (user + system) and resident memory in MB. */
  async usage(): Promise<{ cpuSeconds: number; rssMb: number }> {
    const stat = await Deno.readTextFile(`/proc/${this.pid}/stat`);
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const cpuSeconds = (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
    const status = await Deno.readTextFile(`/proc/${this.pid}/status`);
    const rssKb = Number(/^VmRSS:\s+(\d+)/m.exec(status)?.[1] ?? 0);
    return { cpuSeconds, rssMb: rssKb / 1024 };
  }

  async stop(): Promise<void> {
    try {
      this.#child.kill("SIGTERM");
    } catch {
      // Already exited.
    }
    const timer = setTimeout(() => {
      try {
        this.#child.kill("SIGKILL");
      } catch {
        // Exited meanwhile.
      }
    }, cpuProfDir ? 30_000 : STOP_GRACE_MS);
    await this.#child.status;
    clearTimeout(timer);
    await this.#writer.close().catch(() => {});
  }
}

async function* readLines(stream: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  let buffer = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    buffer += chunk;
    let nl;
    while ((nl = buffer.indexOf("\n")) >= 0) {
      yield buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
    }
  }
}

async function parallel(count: number, concurrency: number, fn: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < count) await fn(next++);
  }));
}

function loadAverage(): number {
  return Deno.loadavg()[0]!;
}

/** A control plane in a child process, simulated nodes here, and a client. */
async function withCluster(
  nodes: number,
  run: (ctx: { server: Server; client: ApiClient; sim: SimulatedNodes }) => Promise<void>,
  v8Flags: readonly string[] = [],
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "skiff-bench-scheduler-" });
  const server = await Server.start(join(dir, "data"), v8Flags);
  const { client } = await ApiClient.fromKubeconfig({ kubeconfig: server.kubeconfig, userAgent: "skiff-bench" });
  let sim: SimulatedNodes | undefined;
  try {
    const t0 = performance.now();
    sim = await runSimulatedNodes({
      client,
      nodes,
      capacity: { cpu: "4", memory: "32Gi", pods: 110 },
      concurrency: 64,
      log: (line) => console.error(line),
    });
    report({
      bench: BENCH,
      metric: "node_registration_seconds",
      value: (performance.now() - t0) / 1000,
      unit: "s",
      nodes,
      note: "Node and Lease created per simulated node, over HTTPS, 64 requests in flight",
    });
    await run({ server, client, sim });
  } finally {
    await sim?.stop();
    client.close();
    await server.stop();
    await Deno.remove(dir, { recursive: true });
  }
}

function benchPod(i: number): Pod {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: `pod-${i}`, namespace: NAMESPACE, labels: { bench: "scheduling" } },
    spec: {
      containers: [{
        name: "pause",
        image: "registry.k8s.io/pause:3.10",
        resources: { requests: { cpu: "100m", memory: "500Mi" } },
      }],
    },
  };
}

async function schedulingThroughput(ctx: { server: Server; client: ApiClient; sim: SimulatedNodes }, nodes: number) {
  const pods = ctx.client.kind<Pod>("v1", "Pod");
  const t0 = performance.now();
  await parallel(sizes.pods, 64, (i) => pods.create(benchPod(i)));
  report({
    bench: BENCH,
    metric: "pod_creates_per_second",
    value: sizes.pods / ((performance.now() - t0) / 1000),
    unit: "pods/s",
    nodes,
    pods: sizes.pods,
    note: "pending pods created over HTTPS before the scheduler starts",
  });
  const started = await ctx.server.ask<{ syncMs: number }>({ cmd: "start" });
  const done = await ctx.server.ask<{ seconds: number; bindSeconds: number }>({ cmd: "wait-bound", count: sizes.pods });
  const detail = {
    nodes,
    pods: sizes.pods,
    quick,
    informer_sync_ms: Math.round(started.syncMs),
    load_average_1m: loadAverage(),
    note: "from scheduler start (incl. listing every pod and node) to the last binding; simulated nodes run the " +
      "bound pods meanwhile; percentageOfNodesToScore 5 (at least 100 nodes)",
  };
  report({
    bench: BENCH,
    metric: "pods_scheduled_per_second",
    value: sizes.pods / done.seconds,
    unit: "pods/s",
    target: nodes >= 5000 ? 500 : 1000,
    ...detail,
  });
  report({
    bench: BENCH,
    metric: "binding_window_pods_per_second",
    value: sizes.pods / done.bindSeconds,
    unit: "pods/s",
    ...detail,
    note: "from the first binding to the last",
  });
}

async function heartbeatCost(ctx: { server: Server; sim: SimulatedNodes }, nodes: number, v8Flags: string[]) {
  await ctx.server.ask({ cmd: "start" });
  await new Promise((resolve) => setTimeout(resolve, sizes.settleSeconds * 1000));
  const before = await ctx.server.usage();
  const renewals = ctx.sim.stats.leaseRenewals;
  const t0 = performance.now();
  await new Promise((resolve) => setTimeout(resolve, sizes.cpuWindowSeconds * 1000));
  const after = await ctx.server.usage();
  const seconds = (performance.now() - t0) / 1000;
  const memory = await ctx.server.ask<{ heapTotal: number; heapUsed: number; liveHeap: number }>({ cmd: "memory" });
  const detail = {
    nodes,
    heartbeat_seconds: 10,
    status_report_seconds: 60,
    window_seconds: Math.round(seconds),
    lease_renewals: ctx.sim.stats.leaseRenewals - renewals,
    load_average_1m: loadAverage(),
    v8_flags: v8Flags.join(" ") || "(defaults)",
    heap_total_mb: Math.round(memory.heapTotal / 1048576),
    heap_used_mb: Math.round(memory.heapUsed / 1048576),
    live_heap_mb: Math.round(memory.liveHeap / 1048576),
    quick,
    note: "control plane process alone (scheduler and every controller running, no pods); nodes in the bench " +
      "process; live_heap_mb is the heap after a full collection",
  };
  report({
    bench: BENCH,
    metric: "control_plane_cpu_heartbeats",
    value: 100 * (after.cpuSeconds - before.cpuSeconds) / seconds,
    unit: "% of one core",
    target: 25,
    ...detail,
  });
  report({
    bench: BENCH,
    metric: "control_plane_rss_heartbeats",
    value: after.rssMb,
    unit: "MB",
    target: 200,
    ...detail,
  });
}

async function deploymentRollout(ctx: { client: ApiClient; sim: SimulatedNodes }, nodes: number) {
  const before = ctx.sim.stats.running;
  const t0 = performance.now();
  await ctx.client.kind<Deployment>("apps/v1", "Deployment").create({
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: "bench", namespace: NAMESPACE },
    spec: {
      replicas: sizes.replicas,
      selector: { matchLabels: { app: "bench" } },
      template: {
        metadata: { labels: { app: "bench" } },
        spec: {
          containers: [{ name: "web", image: "nginx:1.27", resources: { requests: { cpu: "10m", memory: "16Mi" } } }],
        },
      },
    },
  });
  while (ctx.sim.stats.running - before < sizes.replicas) await new Promise((resolve) => setTimeout(resolve, 20));
  report({
    bench: BENCH,
    metric: "deployment_all_running_seconds",
    value: (performance.now() - t0) / 1000,
    unit: "s",
    replicas: sizes.replicas,
    nodes,
    quick,
    load_average_1m: loadAverage(),
    note: "from creating the Deployment to every replica reported Running and Ready by the simulated nodes, " +
      "in the cluster the pods/s figure left (its pods still there)",
  });
}

await withCluster(1000, async (ctx) => {
  await schedulingThroughput(ctx, 1000);
  await deploymentRollout(ctx, 1000);
});
await withCluster(sizes.bigNodes, (ctx) => schedulingThroughput(ctx, sizes.bigNodes));
for (const v8Flags of quick ? [[]] : [[], ["--optimize-for-size"]]) {
  await withCluster(1000, (ctx) => heartbeatCost(ctx, 1000, v8Flags), v8Flags);
}
