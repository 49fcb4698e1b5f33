/**
 * Node agent benchmark (needs root, containerd, runc and the CNI plugins),
 * one run on one machine:
 *
 * - pod start latency: from creating a pod through the API (pinned to the
 *   node with `spec.nodeName`, image present, `imagePullPolicy:
 *   IfNotPresent`, pod network through CNI as the product wires it) to the
 *   pod's phase Running seen on a watch, p50/p99 over N pods; side by side,
 *   taken in turn with them, `ctr run -d` of the same image with the same
 *   command straight on the same containerd (wall time until the task runs),
 *   and the ratio, which is Skiff's overhead; then a series through the
 *   scheduler;
 * - the agent's memory (VmRSS, anonymous and file-backed, PSS, the mappings
 *   it lies in) and CPU (its own, and with the commands it runs) idle with
 *   no pods and with 30 pods running;
 * - the agent's status update rate: its Node updates, Lease renewals, pod
 *   status updates and Events per minute, idle and with 30 pods, and the
 *   pod updates each pod start takes, counted on watches;
 * - the cost of one metrics round (cheap hardware refresh, NodeMetrics and
 *   PodMetrics of 30 pods built and sent), and of each hardware area read
 *   cheap (on its period) and full (at start; the interface list every
 *   5 minutes), measured by a harness process running the agent's own
 *   functions against the same control plane and containers;
 * - when the agent's RSS is above 80 MB with its pods, the agent restarted
 *   with smaller V8 heaps, and its memory again.
 *
 * The agent is `runAgent` as `skiff agent` runs it, in a process of its own
 * (bench/_agent_node.ts), so its RSS and CPU are its own, inside a lab
 * network namespace (the node's "host" network: its pod bridge, routes,
 * nftables table and cluster DNS server live there, so nothing on this
 * machine is touched). The control plane (API server, scheduler,
 * controllers) runs in this process and is reached by the agent over HTTPS
 * on the lab bridge's address. A private containerd serves both the
 * agent's namespace and the raw `ctr` runs' namespace.
 *
 * Everything started is removed however the run ends, Ctrl-C included:
 * pods (the agent tears down their containers, network namespaces and
 * addresses), the agent, raw containers, leftover pod network namespaces,
 * containerd (with every task, container and image it holds), the lab and
 * the temporary directory.
 *
 * `deno task bench agent [--quick]` (`--quick`, about a minute: 5 pods
 * instead of 50, 5 held pods instead of 30, windows of seconds, one
 * metrics round and one cheap read of each hardware area (the full reads
 * only as the first full round), no V8 flag variants;
 * each figure says its counts; the full run takes 6 to 8 minutes)
 *
 * @module
 */

import { join } from "node:path";
import type { KubeObject, Pod } from "@skiff/api";
import { ApiClient } from "@skiff/client";
import { newToken, startControlPlane, SYSTEM_USER } from "../control-plane/mod.ts";
import { buildBusyboxImage, BUSYBOX_IMAGE_REF } from "../test/fixtures/build_busybox.ts";
import {
  type Containerd,
  createLab,
  findProgram,
  removeTree,
  startContainerd,
  uniqueName,
} from "../test/support/mod.ts";
import { percentile, quick, report } from "./_report.ts";
import {
  commandName,
  type CpuTimes,
  cpuTimes,
  descendants,
  isRunning,
  loadAverage,
  memoryOf,
  residentByMapping,
  rssOf,
} from "./_agent_proc.ts";
import { type AgentProcess, runMetricsHarness, startAgentProcess } from "./_agent_processes.ts";
import { type PodTimeline, PodWatch } from "./_agent_pods.ts";
import { WriteCounter, writesPerMinute } from "./_agent_writes.ts";

const BENCH = "agent";
/** Pods of the latency series (each with a raw `ctr run -d` taken in turn). */
const PODS = quick ? 5 : 50;
/** Pods of the series through the scheduler. */
const SCHEDULED = quick ? 1 : 10;
/** Pods kept running while the agent's memory and CPU are measured with pods. */
const HELD = quick ? 5 : 30;
const IDLE_SETTLE_SECONDS = quick ? 1 : 15;
const IDLE_WINDOW_SECONDS = quick ? 3 : 30;
const HELD_SETTLE_SECONDS = quick ? 1 : 15;
const HELD_WINDOW_SECONDS = quick ? 3 : 30;
const METRICS_ROUNDS = quick ? 1 : 10;
/** Reads of each hardware area, cheap and (not with `--quick`) full. */
const AREA_READS = quick ? 1 : 5;
const VARIANT_SETTLE_SECONDS = 20;
const RSS_TARGET_MB = 80;
const NAMESPACE = "default";
const COMMAND = ["sleep", "3600"];

const PROGRAMS: Record<string, string> = {
  containerd: "containerd",
  "containerd-shim-runc-v2": "containerd",
  ctr: "containerd",
  runc: "runc",
  ip: "iproute2",
  nsenter: "util-linux",
  nft: "nftables",
  busybox: "busybox-static",
};
const CNI_PLUGINS = ["bridge", "host-local", "loopback", "portmap"];

/** What this machine lacks to run the benchmark, each with how to get it. */
function missingRequirements(): string[] {
  const missing: string[] = [];
  if (Deno.uid() !== 0) missing.push("root (it runs containers and creates network namespaces: run it with sudo)");
  for (const [program, pkg] of Object.entries(PROGRAMS)) {
    if (!findProgram(program)) missing.push(`"${program}" (install: apt-get install -y ${pkg})`);
  }
  for (const plugin of CNI_PLUGINS) {
    if (!findProgram(`/usr/lib/cni/${plugin}`)) {
      missing.push(`CNI plugin "/usr/lib/cni/${plugin}" (install: apt-get install -y containernetworking-plugins)`);
    }
  }
  return missing;
}

/** Set by Ctrl-C or SIGTERM: the measurements stop and everything started is removed. */
const stop = Promise.withResolvers<void>();
let stopSignal: string | undefined;

/** Waits `ms`, or less when the run is stopped. */
const sleep = async (ms: number) => {
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([new Promise((resolve) => timer = setTimeout(resolve, ms)), stop.promise]);
  clearTimeout(timer);
};
const elapsed = (from: number) => performance.now() - from;
const round1 = (value: number) => Number(value.toFixed(1));
const round3 = (value: number) => Number(value.toFixed(3));

/**
 * Adds one pod's stages, in ms, to `into`: from the create request to the
 * agent's Pulled Event (it saw the pod, wired its network, checked the
 * image), to Created (container config, snapshot, spec), to Started (its
 * `ctr run -d`), to phase Running (status written and watched). Events are
 * timed when they arrive on the watch; a pod missing one is left out.
 */
function addStages(into: Record<string, number[]>, start: number, seen: PodTimeline): void {
  const { Pulled, Created, Started } = seen.events;
  if (Pulled === undefined || Created === undefined || Started === undefined) return;
  const stages = {
    create_to_pulled: Pulled - start,
    pulled_to_created: Created - Pulled,
    created_to_started: Started - Created,
    started_to_running: seen.running - Started,
  };
  for (const [stage, ms] of Object.entries(stages)) (into[stage] ??= []).push(ms);
}

/** The p50 of each stage, in ms. */
function stagesP50(stages: Record<string, number[]>): Record<string, number> {
  return Object.fromEntries(Object.entries(stages).map(([stage, ms]) => [stage, round1(percentile(ms, 50))]));
}

/** A pod of the benchmark: one busybox container sleeping, pinned to `nodeName` unless it is undefined. */
function benchPod(name: string, nodeName: string | undefined): Pod {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, namespace: NAMESPACE, labels: { app: "bench-agent" } },
    spec: {
      ...(nodeName === undefined ? {} : { nodeName }),
      terminationGracePeriodSeconds: 1,
      containers: [{ name: "app", image: "busybox", imagePullPolicy: "IfNotPresent", command: COMMAND }],
    },
  };
}

/** Waits until `probe` answers true, polling every `everyMs`. */
async function until(what: string, probe: () => Promise<boolean>, timeoutMs: number, everyMs = 500): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!await probe()) {
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs / 1000} s waiting for ${what}`);
    // Not cut short by a stop: the clean-up waits with it too.
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

/** Seconds of CPU between two readings, by whom. */
function cpuBetween(before: CpuTimes, after: CpuTimes): { own: number; helpers: number } {
  return {
    own: after.own - before.own,
    helpers: after.waitedChildren - before.waitedChildren + after.liveDescendants - before.liveDescendants,
  };
}

/** Thrown by the measurements once the run is interrupted, so nothing new starts while everything is removed. */
class Interrupted extends Error {
  constructor(signal: string) {
    super(`Interrupted by ${signal}`);
    this.name = "Interrupted";
  }
}

const log = (line: string) => console.error(`[${BENCH}] ${line}`);
const detail = () => ({ load_average_1m: loadAverage(), quick });

/**
 * Starts everything, registering how to remove it on `cleanup` as it goes,
 * and measures. `interrupted()` throws once a signal asked the run to stop.
 */
async function measure(cleanup: AsyncDisposableStack, interrupted: () => void, started: number): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "skiff-bench-agent-" });
  cleanup.defer(() => removeTree(dir).catch((error) => log(`cannot remove ${dir}: ${error}`)));
  const image = await buildBusyboxImage();
  interrupted();
  const lab = await createLab({ nodes: 1 });
  cleanup.defer(() => lab.destroy());
  const labNode = lab.nodes[0]!;
  const plane = await startControlPlane({
    dataDir: join(dir, "plane"),
    port: 0,
    bind: lab.gateway,
    tlsSans: [lab.gateway],
    controllers: true,
    log: () => {},
  });
  cleanup.defer(() => plane.stop());
  const admin = new ApiClient({ server: "https://in-process", transport: plane.handler.as(SYSTEM_USER) });
  const nodeName = uniqueName("bench-agent").toLowerCase();
  cleanup.defer(async () => {
    // Pod network namespaces left by a failure (the agent deletes its pods' own).
    for (const entry of await Array.fromAsync(Deno.readDir("/run/netns")).catch(() => [])) {
      if (!entry.name.startsWith(`skiff-${nodeName}-`)) continue;
      const out = await new Deno.Command("ip", { args: ["netns", "delete", entry.name], stderr: "piped" }).output();
      if (!out.success) log(`cannot delete network namespace ${entry.name}: ${new TextDecoder().decode(out.stderr)}`);
    }
  });
  interrupted();
  const containerd = await startContainerd();
  // A Ctrl-C at the terminal reaches containerd's process group too, and it stops; the clean-up then
  // starts it again on its directory, where it finds its running containers, so they can be removed.
  let revived: Containerd | undefined;
  const revive = async () => {
    if (revived || isRunning(containerd.pid)) return;
    log("containerd had stopped: starting it again on its directory to remove its containers");
    revived = await startContainerd({ dir: containerd.dir });
  };
  cleanup.defer(async () => {
    // Removes every task, container and image of every namespace, then containerd and its directory.
    await revive();
    await revived?.stop();
    await containerd.stop();
  });
  const rawNamespace = `${containerd.namespace}-raw`;
  await containerd.ctr(["images", "import", image.path]);
  await containerd.ctr(["images", "import", image.path], { namespace: rawNamespace });

  const { token, secret } = await newToken({ role: "node", nodeName, description: "bench agent" });
  await admin.kind("v1", "Secret").create(secret as KubeObject);
  const agentDir = join(dir, "agent");
  await Deno.mkdir(agentDir, { recursive: true });
  const agentConfig = {
    server: plane.url,
    token,
    caPem: plane.pki.caPem,
    nodeName,
    nodeIp: labNode.address,
    dataDir: agentDir,
    containerdAddress: containerd.address,
    namespace: containerd.namespace,
    netns: labNode.netns,
  };
  const pods = admin.kind<Pod>("v1", "Pod");
  const watch = new PodWatch(admin, NAMESPACE);
  cleanup.defer(() => watch.close());
  const tasks = async (namespace: string) =>
    (await containerd.ctr(["tasks", "ls"], { namespace })).stdout.split("\n").slice(1)
      .filter((l) => /\bRUNNING\b/.test(l)).length;
  const podNetns = async () =>
    (await Array.fromAsync(Deno.readDir("/run/netns"))).filter((e) => e.name.startsWith(`skiff-${nodeName}-`)).length;

  interrupted();
  let agent: AgentProcess | undefined;
  cleanup.defer(async () => {
    // The agent tears its pods down (containers, network namespaces, addresses) before it stops.
    await revive();
    await pods.deleteCollection({ namespace: NAMESPACE, gracePeriodSeconds: 0 }).catch(() => {});
    if (agent) {
      await until(
        "the agent to remove its pods' containers",
        async () => await tasks(containerd.namespace) === 0,
        60_000,
      )
        .catch((error) => log(`${error.message}; containerd's shutdown removes what is left`));
      await agent.stop();
    }
  });
  const agentStart = performance.now();
  agent = await startAgentProcess(agentConfig, { dir });
  const writes = new WriteCounter(admin, { nodeName, namespace: NAMESPACE });
  cleanup.defer(() => writes.close());
  const startSeconds = elapsed(agentStart) / 1000;
  log(`agent pid ${agent.pid} Ready after ${startSeconds.toFixed(1)} s (${(elapsed(started) / 1000).toFixed(0)} s in)`);
  report({
    bench: BENCH,
    metric: "agent_start_to_ready",
    value: startSeconds,
    unit: "s",
    from: "process spawned",
    until: "node Ready (registration, serving certificate, pod CIDR, cluster network, pod manager)",
    ...detail(),
  });

  /** Reports the agent's memory, CPU and writes over a window of `seconds`. */
  const measureAgent = async (when: string, seconds: number, extra: Record<string, unknown>) => {
    const pid = agent!.pid;
    const cpuBefore = cpuTimes(pid);
    const writesBefore = writes.counts;
    const rss: number[] = [];
    const start = performance.now();
    while (elapsed(start) < seconds * 1000) {
      interrupted();
      rss.push(memoryOf(pid).rss);
      await sleep(Math.max(0, Math.min(1000, seconds * 1000 - elapsed(start))));
    }
    const windowSeconds = elapsed(start) / 1000;
    const cpu = cpuBetween(cpuBefore, cpuTimes(pid));
    const perMinute = writesPerMinute(writesBefore, writes.counts, windowSeconds);
    const memory = memoryOf(pid);
    const helpers = descendants(pid);
    const common = { when, window_seconds: round1(windowSeconds), ...extra, ...detail() };
    report({
      bench: BENCH,
      metric: "agent_rss",
      value: memory.rss,
      unit: "MB",
      anon_mb: round1(memory.anon),
      file_mb: round1(memory.file),
      pss_mb: round1(memory.pss),
      peak_rss_mb: round1(memory.peak),
      window_min_mb: round1(Math.min(...rss)),
      window_max_mb: round1(Math.max(...rss)),
      largest_mappings: residentByMapping(pid),
      helper_processes: helpers.map(commandName).filter(Boolean),
      helpers_rss_mb: round1(rssOf(helpers)),
      target_mb: RSS_TARGET_MB,
      k3s_agent_mb: 268,
      ...common,
    });
    report({
      bench: BENCH,
      metric: "agent_cpu",
      value: (cpu.own / windowSeconds) * 100,
      unit: "% of one core",
      what: "the agent process itself (utime+stime)",
      cpu_seconds: round3(cpu.own),
      target_percent: 1,
      ...common,
    });
    report({
      bench: BENCH,
      metric: "agent_cpu_with_helpers",
      value: ((cpu.own + cpu.helpers) / windowSeconds) * 100,
      unit: "% of one core",
      what: "the agent plus the commands it ran (ctr, ip, nft, CNI plugins) and its live helpers (ctr events)",
      helpers_cpu_seconds: round3(cpu.helpers),
      ...common,
    });
    report({
      bench: BENCH,
      metric: "agent_status_writes",
      value: perMinute.node + perMinute.lease + perMinute.pods + perMinute.events,
      unit: "writes/min",
      node_updates_per_min: perMinute.node,
      lease_renewals_per_min: perMinute.lease,
      pod_updates_per_min: perMinute.pods,
      events_per_min: perMinute.events,
      what: "the agent's writes seen on watches (NodeMetrics and PodMetrics reports are not stored, so not counted)",
      ...common,
    });
    return memory;
  };

  // Idle: no pods, after settling.
  await sleep(IDLE_SETTLE_SECONDS * 1000);
  await measureAgent("idle, no pods", IDLE_WINDOW_SECONDS, { pods: 0, settled_seconds: IDLE_SETTLE_SECONDS });

  // Pod start latency, Skiff and raw ctr taken in turn, after one warm-up of each.
  const raw: number[] = [];
  const skiff: number[] = [];
  const rawIds: string[] = [];
  cleanup.defer(async () => {
    // Before containerd stops: a raw task removed here leaves no shim behind.
    await revive();
    for (const id of rawIds.splice(0)) {
      await containerd.ctr(["tasks", "rm", "-f", id], { namespace: rawNamespace, check: false });
      await containerd.ctr(["containers", "rm", id], { namespace: rawNamespace, check: false });
    }
  });
  const runRaw = async (id: string) => {
    interrupted();
    rawIds.push(id);
    const start = performance.now();
    await containerd.ctr(
      ["run", "-d", "--log-uri", `file://${join(dir, `${id}.log`)}`, BUSYBOX_IMAGE_REF, id, ...COMMAND],
      { namespace: rawNamespace },
    );
    return elapsed(start);
  };
  const runPod = async (name: string, node: string | undefined, stages: Record<string, number[]> = {}) => {
    interrupted();
    const start = performance.now();
    await pods.create(benchPod(name, node));
    const seen = await watch.untilRunning(name, 120_000);
    addStages(stages, start, seen);
    return seen.running - start;
  };
  const firstRaw = await runRaw("raw-warmup");
  const firstPod = await runPod("pod-warmup", nodeName);
  const stages: Record<string, number[]> = {};
  const scheduledStages: Record<string, number[]> = {};
  log(`idle measured; pod start series of ${PODS} at ${(elapsed(started) / 1000).toFixed(0)} s`);
  const seriesWrites = writes.counts;
  for (let i = 0; i < PODS; i++) {
    raw.push(await runRaw(`raw-${i}`));
    skiff.push(await runPod(`pod-${i}`, nodeName, stages));
  }
  // Each pod's later updates (Ready after Running, say) land shortly after the series.
  await sleep(2000);
  const afterSeries = writes.counts;
  const rawRunning = await tasks(rawNamespace);
  const series = {
    pods: PODS,
    order: "raw and Skiff taken in turn, one at a time",
    image: BUSYBOX_IMAGE_REF,
    command: COMMAND.join(" "),
    image_present: true,
    ...detail(),
  };
  const rawDetail = {
    ...series,
    how:
      "ctr run -d --log-uri file://… (wall time of the command: it returns once the task runs), no network namespace",
    tasks_running_after: rawRunning,
  };
  const skiffDetail = {
    ...series,
    from: "pod create request",
    until: "phase Running seen on a watch",
    pinned: "spec.nodeName",
    pull_policy: "IfNotPresent",
    network: "CNI loopback + bridge + host-local, in the node's network namespace",
  };
  report({ bench: BENCH, metric: "raw_ctr_run_p50", value: percentile(raw, 50), unit: "ms", ...rawDetail });
  report({ bench: BENCH, metric: "raw_ctr_run_p99", value: percentile(raw, 99), unit: "ms", ...rawDetail });
  report({
    bench: BENCH,
    metric: "pod_start_p50",
    value: percentile(skiff, 50),
    unit: "ms",
    stages_p50_ms: stagesP50(stages),
    stages_from: "the agent's Pulled, Created and Started Events as they arrive on a watch",
    ...skiffDetail,
  });
  report({ bench: BENCH, metric: "pod_start_p99", value: percentile(skiff, 99), unit: "ms", ...skiffDetail });
  for (const p of [50, 99]) {
    report({
      bench: BENCH,
      metric: `pod_start_ratio_p${p}`,
      value: percentile(skiff, p) / percentile(raw, p),
      unit: "skiff/raw",
      target_ratio: 1.5,
      ...series,
    });
  }
  report({
    bench: BENCH,
    metric: "pod_start_writes",
    value: (afterSeries.pods - seriesWrites.pods) / PODS,
    unit: "pod updates/pod",
    events_per_pod: round1((afterSeries.events - seriesWrites.events) / PODS),
    node_updates: afterSeries.node - seriesWrites.node,
    what: "pod updates (status) and Events the agent wrote per pod started, up to 2 s after the series",
    ...series,
  });
  report({
    bench: BENCH,
    metric: "first_start",
    value: firstPod,
    unit: "ms",
    raw_ms: round1(firstRaw),
    what: "the warm-up of each series, not counted above",
    ...detail(),
  });

  // The same through the scheduler.
  const scheduled: number[] = [];
  for (let i = 0; i < SCHEDULED; i++) scheduled.push(await runPod(`scheduled-${i}`, undefined, scheduledStages));
  const scheduledDetail = { ...skiffDetail, pods: SCHEDULED, pinned: "no: bound by the scheduler" };
  report({
    bench: BENCH,
    metric: "scheduled_pod_start_p50",
    value: percentile(scheduled, 50),
    unit: "ms",
    stages_p50_ms: stagesP50(scheduledStages),
    ...scheduledDetail,
  });
  report({
    bench: BENCH,
    metric: "scheduled_pod_start_p99",
    value: percentile(scheduled, 99),
    unit: "ms",
    ...scheduledDetail,
  });

  // Raw containers go; the agent keeps HELD pods.
  const removing = rawIds.splice(0);
  for (let i = 0; i < removing.length; i += 4) {
    await Promise.all(
      removing.slice(i, i + 4).map(async (id) => {
        await containerd.ctr(["tasks", "rm", "-f", id], { namespace: rawNamespace, check: false });
        await containerd.ctr(["containers", "rm", id], { namespace: rawNamespace, check: false });
      }),
    );
  }
  const extra = ["pod-warmup", ...Array.from({ length: SCHEDULED }, (_, i) => `scheduled-${i}`)];
  for (let i = HELD; i < PODS; i++) extra.push(`pod-${i}`);
  for (const name of extra) await pods.delete(name, { namespace: NAMESPACE, gracePeriodSeconds: 0 });
  await until(
    `the agent to run exactly ${HELD} pods`,
    async () => {
      interrupted();
      return await tasks(containerd.namespace) === HELD && await podNetns() === HELD;
    },
    120_000,
  );

  // With pods: memory, CPU and writes.
  log(`${HELD} pods held at ${(elapsed(started) / 1000).toFixed(0)} s`);
  await sleep(HELD_SETTLE_SECONDS * 1000);
  const held = await measureAgent(`with ${HELD} pods running`, HELD_WINDOW_SECONDS, {
    pods: HELD,
    settled_seconds: HELD_SETTLE_SECONDS,
    metrics_report_period_seconds: 15,
  });

  // One metrics round and the hardware areas, in a harness process.
  interrupted();
  log(`metrics rounds at ${(elapsed(started) / 1000).toFixed(0)} s`);
  const harness = await runMetricsHarness({
    server: plane.url,
    token,
    caPem: plane.pki.caPem,
    nodeName,
    agentDataDir: agentDir,
    containerdAddress: containerd.address,
    namespace: containerd.namespace,
    stateDir: join(dir, "metrics"),
    rounds: METRICS_ROUNDS,
    gapMs: 1000,
    areaReads: AREA_READS,
    fullAreaReads: !quick,
  }, dir);
  const { rounds } = harness;
  const roundDetail = {
    pods: HELD,
    rounds: rounds.length,
    what: "cheap hardware refresh + NodeMetrics + stats of each container (ctr tasks metrics) + PodMetrics PUT",
    containers_read: rounds[0]?.containers,
    node_reports_per_round: rounds[0]?.nodeReports,
    pod_reports_per_round: rounds[0]?.podReports,
    ...detail(),
  };
  const median = (pick: (r: (typeof rounds)[number]) => number) => percentile(rounds.map(pick), 50);
  report({
    bench: BENCH,
    metric: "metrics_round_p50",
    value: median((r) => r.totalMs),
    unit: "ms",
    hardware_refresh_ms: round1(median((r) => r.hardwareMs)),
    container_stats_ms: round1(median((r) => r.statsMs)),
    build_and_send_ms: round1(median((r) => r.sendMs)),
    ...roundDetail,
  });
  report({
    bench: BENCH,
    metric: "metrics_round_cpu_p50",
    value: median((r) => r.ownCpuMs + r.childrenCpuMs),
    unit: "ms",
    process_cpu_ms: round1(median((r) => r.ownCpuMs)),
    ctr_commands_cpu_ms: round1(median((r) => r.childrenCpuMs)),
    ...roundDetail,
  });
  if (harness.fullRound) {
    report({
      bench: BENCH,
      metric: "hardware_full_round",
      value: harness.fullRound.ms,
      unit: "ms",
      what: "every hardware area read fully at once (the agent's start; the interface list through systeminformation)",
      cpu_ms: round1(harness.fullRound.cpuMs + harness.fullRound.childrenCpuMs),
      ...detail(),
    });
  }
  for (const cost of harness.areas) {
    report({
      bench: BENCH,
      metric: `hardware_read_${cost.area}_${cost.full ? "full" : "cheap"}`,
      value: cost.ms,
      unit: "ms",
      area: cost.area,
      read: cost.full ? "full (also what is cached for being slow)" : "cheap (what the agent does on the period)",
      cpu_ms: round1(cost.cpuMs + cost.childrenCpuMs),
      period_seconds: cost.periodMs === null ? "at start only" : cost.periodMs / 1000,
      reads: cost.reads,
      statistic: "median",
      ...detail(),
    });
  }
  const cheapPerMinute = harness.areas.filter((c) => !c.full && c.periodMs !== null)
    .reduce((sum, c) => sum + (c.cpuMs + c.childrenCpuMs) * 60_000 / c.periodMs!, 0);
  report({
    bench: BENCH,
    metric: "hardware_reads_cpu",
    value: cheapPerMinute / 600,
    unit: "% of one core",
    what: "CPU of the periodic cheap reads of every area, each at its own period (from the medians above)",
    ...detail(),
  });

  // Above the target: the agent again with smaller V8 heaps (it adopts its running pods).
  if (held.rss > RSS_TARGET_MB) {
    if (quick) {
      log(`RSS ${held.rss.toFixed(1)} MB is above ${RSS_TARGET_MB} MB: run without --quick for the V8 flag variants`);
    } else {
      for (const v8Flags of [["--max-semi-space-size=1"], ["--max-semi-space-size=1", "--max-old-space-size=64"]]) {
        interrupted();
        await agent.stop();
        agent = await startAgentProcess(agentConfig, { dir, v8Flags });
        await until(`the ${HELD} pods Running after the agent restarted`, async () => {
          const list = await pods.list({ namespace: NAMESPACE });
          return list.items.filter((p) => p.status?.phase === "Running").length === HELD;
        }, 60_000);
        await sleep(VARIANT_SETTLE_SECONDS * 1000);
        await measureAgent(`with ${HELD} pods running, restarted with V8 flags`, HELD_WINDOW_SECONDS, {
          pods: HELD,
          v8_flags: v8Flags.join(" "),
          settled_seconds: VARIANT_SETTLE_SECONDS,
          tasks_running: await tasks(containerd.namespace),
        });
      }
    }
  }
  log(`measured in ${(elapsed(started) / 1000).toFixed(0)} s; cleaning up`);
}

if (import.meta.main) {
  const missing = missingRequirements();
  if (missing.length > 0) {
    console.error(`bench agent cannot run: it needs ${missing.join(", ")}`);
    Deno.exit(2);
  }
  const started = performance.now();
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    Deno.addSignalListener(signal, () => {
      if (stopSignal === undefined) log(`${signal}: stopping and removing everything started (wait for it)`);
      stopSignal ??= signal;
      stop.resolve();
    });
  }
  const interrupted = () => {
    if (stopSignal !== undefined) throw new Interrupted(stopSignal);
  };
  const cleanup = new AsyncDisposableStack();
  let code = 0;
  try {
    const measuring = measure(cleanup, interrupted, started);
    await Promise.race([measuring, stop.promise]);
    if (stopSignal !== undefined) {
      code = 130;
      // What is starting registers its removal first; the next check of `interrupted` ends the run.
      await Promise.race([measuring.catch(() => {}), new Promise((resolve) => setTimeout(resolve, 30_000))]);
    }
  } catch (error) {
    if (!(error instanceof Interrupted)) {
      log(`failed: ${error instanceof Error ? error.message : error}`);
      code = 1;
    } else {
      code = 130;
    }
  } finally {
    await cleanup.disposeAsync().catch((error) => {
      log(`cleaning up failed: ${error instanceof Error ? error.message : error}`);
      code ||= 1;
    });
    log(`finished, everything removed, after ${(elapsed(started) / 1000).toFixed(0)} s`);
  }
  Deno.exit(code);
}
