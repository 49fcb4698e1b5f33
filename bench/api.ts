/**
 * API server benchmark, over HTTPS from a separate process: ConfigMap create
 * and update throughput and latency at 64 concurrent clients, the latency of
 * updates paced at 1,000 writes/s, the server's RSS with 10k stored objects,
 * watch fan-out delay, and, in the same run with the same load generator,
 * etcd (one member on loopback, TLS) doing puts of the same size through its
 * v3 JSON gateway, with the ratio of the two.
 *
 * `deno task bench api [--quick] [--only=update,etcd,paced,watch] [--server-cpu-prof=DIR]`
 *
 * Order: creates of the 10k objects (always: the other sections use them);
 * an idle window in which the server's memory settles while etcd runs its
 * first round of puts; then Skiff update rounds and etcd put rounds taken
 * in turn, so that a change in the machine's load hits both alike; paced
 * updates; watch fan-out. `--server-cpu-prof=DIR` runs the control plane
 * under `--cpu-prof` and leaves its profile in DIR.
 *
 * @module
 */

import { join } from "node:path";
import { Buffer } from "node:buffer";
import { loadKubeconfig } from "../client/mod.ts";
import { percentile, quick, report } from "./_report.ts";
import {
  closedLoop,
  loadAverage,
  LoadClient,
  type MemoryFigures,
  memoryOf,
  mergeRuns,
  paced,
  type RunResult,
} from "./_api_load.ts";
import { type ServerProcess, type SkiffProcess, startEtcd, startSkiff } from "./_api_processes.ts";

const BENCH = "api";
const CONCURRENCY = 64;
const OBJECTS = 10_000;
const VALUE_BYTES = 1024;
const NAMESPACE = "bench";
const WATCH_NAMESPACE = "bench-watch";
const TLS = { tls: true, transport: "node:https keep-alive, one connection per concurrent client" };

const flag = (name: string) => Deno.args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const only = flag("only");
const section = (name: string) => only === undefined || only.split(",").includes(name);
const cpuProfDir = flag("server-cpu-prof");

/** Seconds of each closed-loop round, and how many rounds of Skiff updates and of etcd puts. */
const ROUND_SECONDS = quick ? 3 : 10;
const ROUNDS = quick ? 1 : 3;
const IDLE_SECONDS = quick ? 10 : 30;
const PACED_RATE = 1000;
const PACED_SECONDS = quick ? 5 : 30;
const WATCHERS = quick ? 100 : 1000;
const WATCH_RATE = quick ? 100 : 10;
const WATCH_SECONDS = quick ? 3 : 10;

/** A ConfigMap of about `VALUE_BYTES` of JSON: a few labels and a properties file padded to size. */
function configMap(namespace: string, name: string, serial: number): Record<string, unknown> {
  const data = { serial: String(serial), "app.properties": "" };
  const object = {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name, namespace, labels: { app: "bench", tier: "backend", shard: String(serial % 16) } },
    data,
  };
  data["app.properties"] = "feature.flag.enabled=true\nlog.level=info\ncache.ttl.seconds=300\n".repeat(20);
  let over = JSON.stringify(object).length - VALUE_BYTES;
  while (over > 0) {
    data["app.properties"] = data["app.properties"].slice(0, -over);
    over = JSON.stringify(object).length - VALUE_BYTES;
  }
  return object;
}

const writesPerSecond = (r: RunResult) => r.done / r.seconds;

/** Reports throughput, latency, errors and both sides' CPU of a run. */
function reportRun(result: RunResult, detail: Record<string, unknown>, prefix = ""): void {
  const d = { ...detail, ...TLS, load_average_1m: loadAverage() };
  const name = (metric: string) => prefix ? `${prefix}_${metric}` : metric;
  const figure = (metric: string, value: number, unit: string, extra: Record<string, unknown> = {}) =>
    report({ bench: BENCH, metric: name(metric), value, unit, ...d, ...extra });
  figure("durable_writes_per_second", writesPerSecond(result), "writes/s");
  figure("write_latency_p50", percentile(result.latencies, 50), "ms");
  figure("write_latency_p99", percentile(result.latencies, 99), "ms");
  figure("write_errors", result.errors, "count", { by_status: result.errorStatuses });
  figure("server_cpu", result.serverCpuSeconds / result.seconds, "cores");
  figure("client_cpu", result.clientCpuSeconds / result.seconds, "cores");
}

/** Loads Skiff's API server: ConfigMap creates, updates, paced updates, watches. */
class SkiffBench {
  readonly objects: Record<string, unknown>[] = [];
  #server: SkiffProcess;
  #client: LoadClient;
  #base: string;
  #token: string;
  #updating = new Set<number>();

  constructor(server: SkiffProcess, token: string) {
    this.#server = server;
    this.#token = token;
    this.#client = new LoadClient({
      caPem: server.caPem,
      maxSockets: CONCURRENCY,
      headers: { authorization: `Bearer ${token}` },
    });
    this.#base = `${server.url}/api/v1/namespaces`;
  }

  /** Creates the namespaces and opens the connections. */
  async setUp(): Promise<void> {
    for (const name of [NAMESPACE, WATCH_NAMESPACE]) {
      const res = await this.#client.request(
        "POST",
        this.#base,
        JSON.stringify({ apiVersion: "v1", kind: "Namespace", metadata: { name } }),
      );
      if (res.status !== 201) throw new Error(`Cannot create namespace "${name}": ${res.status} ${res.body}`);
    }
    // Open the connections and warm the request path before measuring.
    await Promise.all(
      Array.from({ length: CONCURRENCY * 4 }, () => this.#client.request("GET", `${this.#base}/${NAMESPACE}`)),
    );
  }

  /** Creates the `OBJECTS` ConfigMaps from `CONCURRENCY` clients. */
  async creates(): Promise<RunResult> {
    let next = 0;
    return await closedLoop(async () => {
      const index = next++;
      const res = await this.#client.request(
        "POST",
        `${this.#base}/${NAMESPACE}/configmaps`,
        JSON.stringify(configMap(NAMESPACE, `cm-${index}`, index)),
      );
      if (res.status === 201) this.objects[index] = JSON.parse(res.body);
      return { ok: res.status === 201, status: res.status };
    }, { concurrency: CONCURRENCY, count: OBJECTS, serverPid: this.#server.pid });
  }

  /** PUTs object `index` with its last resourceVersion and a new serial. */
  async #update(index: number, serial: number): Promise<{ ok: boolean; status: number }> {
    const object = this.objects[index]!;
    (object.data as Record<string, string>).serial = String(serial);
    const url = `${this.#base}/${NAMESPACE}/configmaps/cm-${index}`;
    this.#updating.add(index);
    try {
      const res = await this.#client.request("PUT", url, JSON.stringify(object));
      if (res.status === 200) {
        this.objects[index] = JSON.parse(res.body);
      } else if (res.status === 409) {
        const fresh = await this.#client.request("GET", url);
        if (fresh.status === 200) this.objects[index] = JSON.parse(fresh.body);
      }
      return { ok: res.status === 200, status: res.status };
    } finally {
      this.#updating.delete(index);
    }
  }

  /** The size of an update's body. */
  get updateBytes(): number {
    return JSON.stringify(this.objects[0]).length;
  }

  /** Updates from `CONCURRENCY` clients back to back for `seconds`. */
  updates(seconds: number): Promise<RunResult> {
    // Each client owns the objects whose index is its number modulo CONCURRENCY, so no two updates race.
    const owned = Array.from({ length: CONCURRENCY }, (_, w) => Math.ceil((OBJECTS - w) / CONCURRENCY));
    return closedLoop(
      (worker, n) => this.#update(worker + CONCURRENCY * (n % owned[worker]!), n),
      { concurrency: CONCURRENCY, seconds, serverPid: this.#server.pid },
    );
  }

  /** Updates at `PACED_RATE` whatever the latency, and reports them. */
  async paced(): Promise<void> {
    // The next object round robin whose previous update has been answered, so a slow server shows as latency, not conflicts.
    let cursor = 0;
    const next = () => {
      while (this.#updating.has(cursor % OBJECTS)) cursor++;
      return cursor++ % OBJECTS;
    };
    const result = await paced(
      (_, n) => this.#update(next(), n),
      { rate: PACED_RATE, seconds: PACED_SECONDS, serverPid: this.#server.pid },
    );
    reportRun(result, {
      server: "skiff",
      op: "update",
      method: "PUT with resourceVersion",
      target_rate: PACED_RATE,
      seconds: PACED_SECONDS,
      objects: OBJECTS,
      value_bytes: this.updateBytes,
      latency_from: "scheduled send time",
    }, "paced");
  }

  /** Reports the server's memory now. */
  memory(when: string, figures: MemoryFigures = memoryOf(this.#server.pid), idleSeconds?: number): void {
    report({
      bench: BENCH,
      metric: "server_rss",
      value: figures.rss,
      unit: "MB",
      server: "skiff",
      when,
      ...(idleSeconds === undefined ? {} : { idle_seconds: idleSeconds }),
      stored_configmaps: this.objects.filter(Boolean).length,
      anon_mb: figures.anon,
      file_mb: figures.file,
      pss_mb: figures.pss,
      peak_rss_mb: figures.peakRss,
    });
  }

  /**
   * Leaves the server idle for `seconds` (V8 gives memory back only some
   * seconds after allocation stops) while `meanwhile` runs, and reports its
   * memory two seconds in and at the end.
   */
  async idleMemory(seconds: number, meanwhile: () => Promise<void>): Promise<void> {
    const start = performance.now();
    let early: MemoryFigures | undefined;
    const sampler = setTimeout(() => early = memoryOf(this.#server.pid), 2000);
    try {
      await meanwhile();
      const left = seconds * 1000 - (performance.now() - start);
      if (left > 0) await new Promise((resolve) => setTimeout(resolve, left));
    } finally {
      clearTimeout(sampler);
    }
    const what = `idle after creating ${OBJECTS} configmaps`;
    if (early) this.memory(what, early, 2);
    this.memory(what, memoryOf(this.#server.pid), Math.round((performance.now() - start) / 1000));
  }

  /**
   * Opens `WATCHERS` watches on the watch namespace from its list's
   * resourceVersion, then creates ConfigMaps there at `WATCH_RATE` and
   * reports the delay from each write being issued to each watcher
   * receiving its event.
   */
  async watchFanOut(): Promise<void> {
    const listed = await this.#client.request("GET", `${this.#base}/${WATCH_NAMESPACE}/configmaps`);
    if (listed.status !== 200) throw new Error(`Cannot list configmaps to watch: ${listed.status} ${listed.body}`);
    const rv = (JSON.parse(listed.body) as { metadata: { resourceVersion: string } }).metadata.resourceVersion;
    const total = WATCH_RATE * WATCH_SECONDS;
    const sentAt = new Float64Array(total);
    const delays: number[] = [];
    const marker = '"name":"wf-';
    let delivered = 0;
    let barriers = 0;
    let allDelivered: () => void = () => {};
    let allReady: () => void = () => {};
    const everything = new Promise<void>((resolve) => allDelivered = resolve);
    const ready = new Promise<void>((resolve) => allReady = resolve);
    const onLine = (line: string) => {
      const at = line.indexOf(marker);
      if (at < 0) {
        if (line.includes('"name":"barrier"') && ++barriers === WATCHERS) allReady();
        return;
      }
      delays.push(performance.now() - sentAt[parseInt(line.slice(at + marker.length, at + marker.length + 12))]!);
      if (++delivered === total * WATCHERS) allDelivered();
    };
    const watchClient = new LoadClient({
      caPem: this.#server.caPem,
      maxSockets: WATCHERS,
      headers: { authorization: `Bearer ${this.#token}` },
    });
    const streams: { status: Promise<number>; close(): void }[] = [];
    try {
      const url = `${this.#base}/${WATCH_NAMESPACE}/configmaps?watch=1&resourceVersion=${rv}`;
      const opened = performance.now();
      for (let i = 0; i < WATCHERS; i++) streams.push(watchClient.stream(url, onLine));
      // Every watch is serving once each has received this one event.
      const barrier = await this.#client.request(
        "POST",
        `${this.#base}/${WATCH_NAMESPACE}/configmaps`,
        JSON.stringify(configMap(WATCH_NAMESPACE, "barrier", 0)),
      );
      if (barrier.status !== 201) {
        throw new Error(`Cannot create the barrier configmap: ${barrier.status} ${barrier.body}`);
      }
      const waitMs = 10_000 + WATCHERS * 50;
      if (!await Promise.race([ready.then(() => true), new Promise((r) => setTimeout(() => r(false), waitMs))])) {
        const statuses: Record<number, number> = {};
        for (const stream of streams) {
          const status = await Promise.race([stream.status, Promise.resolve(-1)]);
          statuses[status] = (statuses[status] ?? 0) + 1;
        }
        throw new Error(
          `Only ${barriers} of ${WATCHERS} watches delivered the first event within ${waitMs / 1000} s: ` +
            `statuses ${JSON.stringify(statuses)} (-1: no response yet, 0: connection failed)`,
        );
      }
      const openSeconds = (performance.now() - opened) / 1000;
      const result = await paced(async (_, n) => {
        sentAt[n] = performance.now();
        const res = await this.#client.request(
          "POST",
          `${this.#base}/${WATCH_NAMESPACE}/configmaps`,
          JSON.stringify(configMap(WATCH_NAMESPACE, `wf-${n}`, n)),
        );
        return { ok: res.status === 201, status: res.status };
      }, { rate: WATCH_RATE, seconds: WATCH_SECONDS, serverPid: this.#server.pid });
      await Promise.race([everything, new Promise((resolve) => setTimeout(resolve, 10_000))]);
      const detail = {
        server: "skiff",
        watchers: WATCHERS,
        target_rate: WATCH_RATE,
        achieved_rate: Math.round(writesPerSecond(result)),
        value_bytes: VALUE_BYTES,
        from: "write issued",
        ...TLS,
        load_average_1m: loadAverage(),
      };
      const figure = (metric: string, value: number, unit: string, extra: Record<string, unknown> = {}) =>
        report({ bench: BENCH, metric, value, unit, ...detail, ...extra });
      figure("watch_open_seconds", openSeconds, "s", { until: "every watch delivered a first event" });
      figure("watch_delivery_p50", percentile(delays, 50), "ms");
      figure("watch_delivery_p99", percentile(delays, 99), "ms");
      figure("watch_events_delivered", delivered, "events", { expected: total * WATCHERS });
      figure("watch_write_errors", result.errors, "count", { by_status: result.errorStatuses });
      figure("watch_server_cpu", result.serverCpuSeconds / result.seconds, "cores");
      figure("watch_client_cpu", result.clientCpuSeconds / result.seconds, "cores");
    } finally {
      for (const stream of streams) stream.close();
      watchClient.close();
    }
  }

  close(): void {
    this.#client.close();
  }
}

/** Loads etcd: puts of ConfigMap-sized values through the v3 JSON gateway. */
class EtcdBench {
  readonly server: ServerProcess;
  #client: LoadClient;

  constructor(server: ServerProcess) {
    this.server = server;
    this.#client = new LoadClient({ caPem: server.caPem, maxSockets: CONCURRENCY });
  }

  async #put(index: number): Promise<{ ok: boolean; status: number }> {
    const b64 = (text: string) => Buffer.from(text).toString("base64");
    const res = await this.#client.request(
      "POST",
      `${this.server.url}/v3/kv/put`,
      JSON.stringify({
        key: b64(`/registry/configmaps/${NAMESPACE}/cm-${index}`),
        value: b64(JSON.stringify(configMap(NAMESPACE, `cm-${index}`, index))),
      }),
    );
    return { ok: res.status === 200, status: res.status };
  }

  /** Opens the connections, as Skiff's were before its runs. */
  async setUp(): Promise<void> {
    await Promise.all(Array.from({ length: CONCURRENCY * 4 }, (_, i) => this.#put(OBJECTS + i)));
  }

  /** Puts from `CONCURRENCY` clients back to back for `seconds`, over `OBJECTS` keys. */
  puts(seconds: number): Promise<RunResult> {
    let next = 0;
    return closedLoop(() => this.#put(next++ % OBJECTS), {
      concurrency: CONCURRENCY,
      seconds,
      serverPid: this.server.pid,
    });
  }

  close(): void {
    this.#client.close();
  }
}

const dir = await Deno.makeTempDir({ prefix: "skiff-bench-api-" });
const running = new Set<ServerProcess>();
let cleaning: Promise<void> | undefined;
const cleanUp = () =>
  cleaning ??= (async () => {
    await Promise.all([...running].map((p) => p.stop()));
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  })();
const onSignal = () => {
  console.error("Interrupted: stopping the servers and removing the temporary data");
  cleanUp().finally(() => Deno.exit(130));
};
Deno.addSignalListener("SIGINT", onSignal);
Deno.addSignalListener("SIGTERM", onSignal);

const machine = { cores: navigator.hardwareConcurrency };
try {
  report({ bench: BENCH, metric: "load_average_1m", value: loadAverage(), unit: "load", when: "start", ...machine });
  const skiffProcess = await startSkiff(join(dir, "skiff"), cpuProfDir ? { cpuProfDir } : {});
  running.add(skiffProcess);
  const kubeconfig = await loadKubeconfig({ kubeconfig: skiffProcess.kubeconfig });
  if (!kubeconfig.token) throw new Error(`The admin kubeconfig ${skiffProcess.kubeconfig} has no token`);
  const skiff = new SkiffBench(skiffProcess, kubeconfig.token);
  let etcd: EtcdBench | undefined;
  try {
    await skiff.setUp();
    skiff.memory("started");
    const created = await skiff.creates();
    const writes = { concurrency: CONCURRENCY, objects: OBJECTS };
    reportRun(created, { server: "skiff", op: "create", ...writes, value_bytes: VALUE_BYTES });

    const updates: RunResult[] = [];
    const puts: RunResult[] = [];
    const etcdRound = async () => puts.push(await etcd!.puts(ROUND_SECONDS));
    await skiff.idleMemory(IDLE_SECONDS, async () => {
      if (!section("etcd")) return;
      const server = await startEtcd(join(dir, "etcd"));
      running.add(server);
      etcd = new EtcdBench(server);
      await etcd.setUp();
      await etcdRound();
    });
    for (let round = 0; round < ROUNDS; round++) {
      if (section("update")) updates.push(await skiff.updates(ROUND_SECONDS));
      if (etcd && round < ROUNDS - 1) await etcdRound();
    }
    const rounds = { rounds: ROUNDS, round_seconds: ROUND_SECONDS };
    if (updates.length > 0) {
      reportRun(mergeRuns(updates), {
        server: "skiff",
        op: "update",
        method: "PUT with resourceVersion",
        ...writes,
        ...rounds,
        value_bytes: skiff.updateBytes,
      });
    }
    if (etcd) {
      const merged = mergeRuns(puts);
      reportRun(merged, {
        server: "etcd",
        op: "put",
        api: "v3 JSON gateway /v3/kv/put",
        ...writes,
        ...rounds,
        value_bytes: VALUE_BYTES,
        etcd_rss_mb: memoryOf(etcd.server.pid).rss,
      });
      const compared = [["create", [created]], ["update", updates]] as const;
      for (const [op, runs] of compared) {
        if (runs.length === 0) continue;
        report({
          bench: BENCH,
          metric: "skiff_vs_etcd_writes",
          value: writesPerSecond(mergeRuns([...runs])) / writesPerSecond(merged),
          unit: "ratio",
          skiff_op: op,
          etcd_op: "put",
          skiff_writes_per_second: Math.round(writesPerSecond(mergeRuns([...runs]))),
          etcd_writes_per_second: Math.round(writesPerSecond(merged)),
          ...(op === "update"
            ? {
              ratio_by_round: runs.map((r, i) => Number((writesPerSecond(r) / writesPerSecond(puts[i]!)).toFixed(3))),
            }
            : {}),
          concurrency: CONCURRENCY,
          value_bytes: VALUE_BYTES,
          ...TLS,
          etcd_tls: true,
        });
      }
      await etcd.server.stop();
      running.delete(etcd.server);
    }
    if (section("paced")) await skiff.paced();
    if (section("watch")) await skiff.watchFanOut();
    skiff.memory("end");
  } finally {
    etcd?.close();
    skiff.close();
  }
  report({ bench: BENCH, metric: "load_average_1m", value: loadAverage(), unit: "load", when: "end", ...machine });
} finally {
  await cleanUp();
  Deno.removeSignalListener("SIGINT", onSignal);
  Deno.removeSignalListener("SIGTERM", onSignal);
}
