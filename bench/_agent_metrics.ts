/**
 * The agent benchmark's metrics-round harness, in a process of its own so
 * that its CPU time is the round's: what the agent does every 15 s, with
 * the agent's own functions, against the running control plane and the
 * agent's running containers:
 *
 * 1. a hardware refresh of the cheap areas (`HardwareMonitor.refresh` with
 *    `CHEAP_AREAS`);
 * 2. `MetricsReporter.report()`: the NodeMetrics built from the readings
 *    and PUT, then each pod's containers' stats (`ContainerdRuntime.stats`,
 *    one `ctr tasks metrics` each, one after another as the pod manager
 *    reads them), its PodMetrics built and PUT.
 *
 * The harness reads the agent's containerd namespace with a runtime of its
 * own (its own state directory): it only lists and reads stats, and all
 * containers run throughout, so it never reaps or changes one. The first
 * round warms up (the runtime adopts the containers; a PodMetrics needs two
 * CPU samples) and is not reported.
 *
 * The warm-up's full hardware round (every area at once, as at the agent's
 * start) is timed. Then the cost of each hardware area read on its own,
 * cheap (what the monitor does on the area's period) and, when asked, full
 * (what it does at start and for the slow, cached parts: CPU identity, the
 * interface list), a few times each.
 *
 * Prints one JSON line for the full round (`{ "fullRound": … }`, see
 * {@linkcode FullRoundFigures}), per measured round (`{ "round": … }`, see
 * {@linkcode RoundFigures}) and per area and kind of read (`{ "area": … }`,
 * see {@linkcode AreaCost}) on stdout.
 *
 * `deno run -A bench/_agent_metrics.ts <config.json>` (see {@linkcode MetricsHarnessConfig})
 *
 * @module
 */

import process from "node:process";
import { join } from "node:path";
import { ApiClient, createTlsFetch } from "../client/mod.ts";
import {
  CHEAP_AREAS,
  ContainerdRuntime,
  containerIdentity,
  HARDWARE_AREAS,
  type HardwareArea,
  HardwareMonitor,
  MetricsReporter,
  NETWORK_INTERFACES_PERIOD_MS,
  podMetrics,
  type PodUsageSample,
} from "../node-agent/mod.ts";
import { cpuTimes } from "./_agent_proc.ts";

function median(samples: number[]): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)] ?? 0;
}

/** What the benchmark hands the harness, as a JSON file. */
export interface MetricsHarnessConfig {
  /** The API server's URL. */
  server: string;
  /** The node's token. */
  token: string;
  /** The cluster CA, PEM. */
  caPem: string;
  /** The node's name. */
  nodeName: string;
  /** The agent's data directory (its file system is the node's ephemeral storage). */
  agentDataDir: string;
  /** containerd's socket. */
  containerdAddress: string;
  /** The agent's containerd namespace. */
  namespace: string;
  /** A directory of the harness's own (its runtime's records). */
  stateDir: string;
  /** Rounds to measure after the warm-up. */
  rounds: number;
  /** Pause between rounds, in ms. */
  gapMs: number;
  /** Reads of each hardware area, whose median is reported. */
  areaReads: number;
  /** Also read each area fully on its own (the network's interface list takes seconds). */
  fullAreaReads: boolean;
}

/** What the first, full hardware round cost (every area at once, as the agent reads them at start). */
export interface FullRoundFigures {
  /** Wall time, ms. */
  ms: number;
  /** CPU time of the harness process, ms. */
  cpuMs: number;
  /** CPU time of the commands it ran, ms (10 ms resolution). */
  childrenCpuMs: number;
}

/** What one hardware area costs to read, the median of several reads. */
export interface AreaCost {
  /** The area. */
  area: HardwareArea;
  /** A full read (`true`) or a cheap one. */
  full: boolean;
  /** Wall time, ms. */
  ms: number;
  /** CPU time of the harness process, ms. */
  cpuMs: number;
  /** CPU time of the commands it ran (e.g. `vcgencmd`), ms (10 ms resolution). */
  childrenCpuMs: number;
  /**
   * How often the agent reads it so, ms: a cheap read on the area's period;
   * a full read only at start (`null`), except the network's interface
   * list, listed again once older than its age limit.
   */
  periodMs: number | null;
  /** Reads taken. */
  reads: number;
}

/** The figures of one measured round. */
export interface RoundFigures {
  /** Wall time of the whole round, ms. */
  totalMs: number;
  /** Of which the hardware refresh, ms. */
  hardwareMs: number;
  /** Of which reading the containers' stats, ms. */
  statsMs: number;
  /** Of which building and sending NodeMetrics and PodMetrics, ms. */
  sendMs: number;
  /** CPU time of the harness process itself, ms. */
  ownCpuMs: number;
  /** CPU time of the commands it ran (`ctr tasks metrics`), ms (10 ms resolution). */
  childrenCpuMs: number;
  /** NodeMetrics sent. */
  nodeReports: number;
  /** PodMetrics sent. */
  podReports: number;
  /** Running containers read. */
  containers: number;
}

if (import.meta.main) {
  const path = Deno.args[0];
  if (!path) {
    console.error("Missing config file: usage: deno run -A bench/_agent_metrics.ts <config.json>");
    Deno.exit(2);
  }
  const config = JSON.parse(await Deno.readTextFile(path)) as MetricsHarnessConfig;
  const tls = createTlsFetch({ caPem: config.caPem });
  const client = new ApiClient({
    server: config.server,
    token: config.token,
    transport: tls,
    userAgent: `skiff-bench-metrics/${config.nodeName}`,
    close: () => tls.close(),
  });
  const runtime = new ContainerdRuntime({
    stateDir: join(config.stateDir, "runtime"),
    address: config.containerdAddress,
    namespace: config.namespace,
    onError: (error) => console.error(`Harness runtime: ${error.message}`),
  });
  const monitor = new HardwareMonitor({
    dataDir: config.agentDataDir,
    onError: (area, error) => console.error(`Hardware reading "${area}" failed: ${error.message}`),
  });

  // The pod manager's stats(): each running container's CPU rate since the previous read, and its working set.
  const previous = new Map<string, { at: number; nanos: number }>();
  let containers = 0;
  const podStats = async (): Promise<PodUsageSample[]> => {
    const pods = new Map<string, PodUsageSample>();
    containers = 0;
    for (const info of await runtime.listContainers({ states: ["running"] })) {
      const identity = containerIdentity(info.labels);
      if (!identity) continue;
      const stats = await runtime.stats(info.id);
      containers++;
      const before = previous.get(info.id);
      const windowMs = before && stats.timestamp > before.at ? stats.timestamp - before.at : undefined;
      previous.set(info.id, { at: stats.timestamp, nanos: stats.cpuUsageNanoseconds });
      const key = identity.podUid;
      const pod = pods.get(key) ?? { namespace: identity.podNamespace, name: identity.podName, containers: [] };
      pod.containers.push({
        name: identity.containerName,
        timestamp: stats.timestamp,
        memoryWorkingSetBytes: stats.memoryWorkingSetBytes,
        ...(windowMs === undefined ? {} : {
          windowMs,
          cpuMillicores: Math.max(0, (stats.cpuUsageNanoseconds - before!.nanos) / 1e6 / windowMs * 1000),
        }),
      });
      pods.set(key, pod);
    }
    return [...pods.values()];
  };
  let statsMs = 0;
  const reporter = new MetricsReporter({
    client,
    nodeName: config.nodeName,
    readings: () => monitor.readings,
    podMetrics: async () => {
      const start = performance.now();
      const samples = await podStats();
      statsMs = performance.now() - start;
      return samples.flatMap((sample) => podMetrics(sample) ?? []);
    },
    log: (line) => console.error(line),
  });

  let code = 0;
  try {
    const firstCpu = process.cpuUsage();
    const firstChildren = cpuTimes(Deno.pid);
    const firstStart = performance.now();
    await monitor.refresh({ full: true });
    const firstUsed = process.cpuUsage(firstCpu);
    const first: FullRoundFigures = {
      ms: performance.now() - firstStart,
      cpuMs: (firstUsed.user + firstUsed.system) / 1000,
      childrenCpuMs: (cpuTimes(Deno.pid).waitedChildren - firstChildren.waitedChildren) * 1000,
    };
    console.log(JSON.stringify({ fullRound: first }));
    await reporter.report();
    for (let round = 0; round < config.rounds; round++) {
      await new Promise((resolve) => setTimeout(resolve, config.gapMs));
      const sent = reporter.stats;
      const cpu = process.cpuUsage();
      const children = cpuTimes(Deno.pid);
      const start = performance.now();
      await monitor.refresh({ areas: CHEAP_AREAS });
      const refreshed = performance.now();
      await reporter.report();
      const end = performance.now();
      const used = process.cpuUsage(cpu);
      const after = cpuTimes(Deno.pid);
      const figures: RoundFigures = {
        totalMs: end - start,
        hardwareMs: refreshed - start,
        statsMs,
        sendMs: end - refreshed - statsMs,
        ownCpuMs: (used.user + used.system) / 1000,
        childrenCpuMs: (after.waitedChildren - children.waitedChildren) * 1000,
        nodeReports: reporter.stats.nodeReports - sent.nodeReports,
        podReports: reporter.stats.podReports - sent.podReports,
        containers,
      };
      console.log(JSON.stringify({ round: figures }));
    }
    const periods = monitor.periods;
    for (const area of HARDWARE_AREAS) {
      for (const full of config.fullAreaReads ? [false, true] : [false]) {
        const wall: number[] = [];
        const own: number[] = [];
        const children: number[] = [];
        for (let read = 0; read < config.areaReads; read++) {
          const cpu = process.cpuUsage();
          const before = cpuTimes(Deno.pid);
          const start = performance.now();
          await monitor.refresh({ areas: [area], full });
          wall.push(performance.now() - start);
          const used = process.cpuUsage(cpu);
          own.push((used.user + used.system) / 1000);
          children.push((cpuTimes(Deno.pid).waitedChildren - before.waitedChildren) * 1000);
        }
        const cost: AreaCost = {
          area,
          full,
          ms: median(wall),
          cpuMs: median(own),
          childrenCpuMs: median(children),
          periodMs: !full ? periods[area] : area === "network" ? NETWORK_INTERFACES_PERIOD_MS : null,
          reads: config.areaReads,
        };
        console.log(JSON.stringify({ area: cost }));
      }
    }
  } catch (error) {
    console.error(`The metrics harness failed: ${error instanceof Error ? error.message : error}`);
    code = 1;
  } finally {
    await runtime.close();
    client.close();
  }
  Deno.exit(code);
}
