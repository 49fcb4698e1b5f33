/**
 * Test support for the CLI: a real control plane in a temporary directory
 * (HTTPS on a free loopback port), and the program run in process with its
 * output captured, as a user would see it.
 *
 * @module
 */

import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import YAML from "yaml";
import { type Clock, type KubeObject, systemClock } from "@skiff/api";
import { ApiClient, writeKubeconfig } from "@skiff/client";
import {
  type ApiHandler,
  createApi,
  ensurePki,
  newToken,
  openStore,
  type ServedType,
  serveHttps,
  startControlPlane,
  SYSTEM_USER,
  TOKEN_NAMESPACE,
} from "@skiff/control-plane";
import type { Io } from "./_io.ts";
import { runCli } from "./main.ts";

/** Where the shared test fixtures live. */
export const TESTDATA = join(dirname(fileURLToPath(import.meta.url)), "testdata");

/** What a run printed and returned. */
export interface RunResult {
  /** The exit code. */
  code: number;
  /** Standard output. */
  stdout: string;
  /** Standard error. */
  stderr: string;
}

/** Options of {@linkcode captureIo}. */
export interface CaptureOptions {
  /** Environment variables (nothing else is visible). */
  env?: Record<string, string>;
  /** The clock the CLI reads. */
  now?: () => number;
  /** Standard input. */
  stdin?: string | ReadableStream<Uint8Array>;
  /** Pretend standard output and error are terminals. */
  terminal?: boolean;
  /** Stops long-running commands. */
  signal?: AbortSignal;
}

/** An {@linkcode Io} whose output is kept in memory. */
export function captureIo(options: CaptureOptions = {}): { io: Io; stdout(): string; stderr(): string } {
  const out: string[] = [];
  const err: string[] = [];
  const decoder = new TextDecoder();
  const env = options.env ?? {};
  const stdin = options.stdin;
  const io: Io = {
    stdout: {
      isTerminal: options.terminal ?? false,
      write: (data) => void out.push(typeof data === "string" ? data : decoder.decode(data)),
    },
    stderr: {
      isTerminal: options.terminal ?? false,
      write: (data) => void err.push(typeof data === "string" ? data : decoder.decode(data)),
    },
    stdin: () =>
      stdin instanceof ReadableStream ? stdin : new Blob([stdin ?? ""]).stream() as ReadableStream<Uint8Array>,
    stdinIsTerminal: false,
    env: (name) => env[name],
    now: options.now ?? (() => Date.now()),
  };
  if (options.signal) io.signal = options.signal;
  return { io, stdout: () => out.join(""), stderr: () => err.join("") };
}

/** A clock whose `now` the test sets; timers are real. */
export class SetClock implements Clock {
  /** The time it reads. */
  time: number;

  /** Creates a clock reading `time`. */
  constructor(time: number) {
    this.time = time;
  }

  /** The time set. */
  now(): number {
    return this.time;
  }

  /** A real timer. */
  setTimeout(fn: () => void, ms: number): number {
    return systemClock.setTimeout(fn, ms);
  }

  /** Cancels a real timer. */
  clearTimeout(handle: number): void {
    systemClock.clearTimeout(handle);
  }
}

/** The API server a test runs against. */
export interface TestServer {
  /** Its HTTPS URL. */
  url: string;
  /** Its admin kubeconfig. */
  kubeconfigPath: string;
  /** The API handler, for in-process clients and direct object access. */
  handler: ApiHandler;
  /** The types it serves. */
  types: ServedType[];
  /** Its CA, serving certificate and key (PEM). */
  pki: { caPem: string; certPem: string; keyPem: string };
  /** Stops it and closes its store. */
  stop(): Promise<void>;
}

/** A cluster for one test, and ways to drive the CLI against it. */
export interface TestCluster {
  /** The API server. */
  server: TestServer;
  /** Its admin kubeconfig. */
  kubeconfig: string;
  /** A client acting as the control plane itself, to arrange state (statuses, metrics, events). */
  admin: ApiClient;
  /** A temporary directory for the test's own files. */
  dir: string;
  /** Runs `skiff <args>` with KUBECONFIG pointing at the cluster (plus `env`). */
  run(args: readonly string[], options?: CaptureOptions): Promise<RunResult>;
  /**
   * Starts `skiff <args>` as {@linkcode TestCluster.run} does, and returns
   * at once: the test waits for what it prints before it changes the
   * cluster or interrupts the command, instead of sleeping.
   *
   * @example
   * ```ts
   * const watching = cluster.start(["get", "pods", "-w"]);
   * await watching.waitFor(/^web-2 /m); // listed: now watching
   * watching.abort();
   * const { stdout } = await watching.result;
   * ```
   */
  start(args: readonly string[], options?: CaptureOptions): CliRun;
}

/** How long {@linkcode CliRun.waitFor} and {@linkcode RequestLog.waitFor} wait unless told: generous, for loaded CI machines. */
export const WAIT_TIMEOUT_MS = 30_000;

/** A CLI run in progress, from {@linkcode TestCluster.start}. */
export interface CliRun {
  /** What it has printed to standard output so far. */
  stdout(): string;
  /** What it has printed to standard error so far. */
  stderr(): string;
  /**
   * Resolves once standard output contains `expected` (a string), or
   * matches it (a pattern). Rejects with an error naming what was awaited
   * and what was printed so far if the run ends first or `timeoutMs`
   * (default {@linkcode WAIT_TIMEOUT_MS}) passes, and then interrupts the
   * run, so a failing test does not hang.
   */
  waitFor(expected: string | RegExp, timeoutMs?: number): Promise<void>;
  /** Interrupts the command: aborts the signal long-running commands stop on (Ctrl-C in a terminal). */
  abort(): void;
  /** How the run ended. */
  result: Promise<RunResult>;
}

/**
 * Waiters for a condition on state that changes in steps (output written,
 * a request received): each waiter checks again at every change.
 */
class Changes {
  #waiters = new Set<() => void>();

  /** Something changed: every waiter checks again. */
  notify(): void {
    for (const check of [...this.#waiters]) check();
  }

  /**
   * Resolves once `ready()` returns true, checked now and at every
   * {@linkcode Changes.notify}; rejects with what `ready()` throws, or with
   * `timedOut()` after `timeoutMs`.
   */
  until(ready: () => boolean, options: { timeoutMs: number; timedOut: () => Error }): Promise<void> {
    return new Promise((resolve, reject) => {
      const finish = () => {
        clearTimeout(timer);
        this.#waiters.delete(check);
      };
      const check = () => {
        let done: boolean;
        try {
          done = ready();
        } catch (err) {
          finish();
          return reject(err);
        }
        if (done) {
          finish();
          resolve();
        }
      };
      const timer = setTimeout(() => {
        finish();
        reject(options.timedOut());
      }, options.timeoutMs);
      this.#waiters.add(check);
      check();
    });
  }
}

/** Runs the CLI on `captured`, whose signal `stop` aborts, and tells waiters each time it writes or ends. */
function startRun(
  args: readonly string[],
  options: { captured: ReturnType<typeof captureIo>; stop: AbortController },
): CliRun {
  const { captured, stop } = options;
  const changes = new Changes();
  const notifying = (output: Io["stdout"]): Io["stdout"] => ({
    isTerminal: output.isTerminal,
    write(data) {
      output.write(data);
      changes.notify();
    },
  });
  const io: Io = { ...captured.io, stdout: notifying(captured.io.stdout), stderr: notifying(captured.io.stderr) };
  let ended: number | string | undefined;
  const result = runCli(args, io).then(
    (code) => ({ code, stdout: captured.stdout(), stderr: captured.stderr() }),
    (err) => {
      ended = `by throwing ${err instanceof Error ? err.stack ?? err.message : String(err)}`;
      changes.notify();
      throw err;
    },
  );
  result.then((r) => {
    ended = r.code;
    changes.notify();
  }, () => {});
  const command = `skiff ${args.join(" ")}`;
  const printed = () => `stdout so far:\n${captured.stdout()}\nstderr so far:\n${captured.stderr()}`;
  return {
    stdout: captured.stdout,
    stderr: captured.stderr,
    async waitFor(expected, timeoutMs = WAIT_TIMEOUT_MS) {
      const what = typeof expected === "string" ? JSON.stringify(expected) : String(expected);
      const ready = () => {
        const out = captured.stdout();
        if (typeof expected === "string" ? out.includes(expected) : out.search(expected) >= 0) return true;
        if (ended !== undefined) {
          const how = typeof ended === "number" ? `with exit code ${ended}` : ended;
          throw new Error(`${command} ended ${how} before printing ${what}; ${printed()}`);
        }
        return false;
      };
      try {
        await changes.until(ready, {
          timeoutMs,
          timedOut: () => new Error(`${command} did not print ${what} within ${timeoutMs} ms; ${printed()}`),
        });
      } catch (err) {
        stop.abort();
        throw err;
      }
    },
    abort: () => stop.abort(),
    result,
  };
}

/** Options of {@linkcode withCluster}. */
export interface ClusterOptions {
  /** The control plane's clock (creation timestamps). */
  clock?: Clock;
  /**
   * Serve the API alone, without the control plane's scheduler and
   * controllers: for tests that play those parts themselves (writing
   * deployment statuses and revisions, stopping evicted pods as an agent
   * would), so nothing else writes the same objects.
   */
  apiOnly?: boolean;
}

/** The API server alone: PKI, store, API handler, HTTPS and an admin kubeconfig, as the control plane sets them up. */
async function startApiOnly(dataDir: string, clock: Clock | undefined): Promise<TestServer> {
  const pki = await ensurePki(join(dataDir, "pki"));
  const store = openStore(`sqlite://${join(dataDir, "state.db")}`, clock ? { clock } : {});
  const api = await createApi(store, clock ? { clock } : {});
  const server = await serveHttps(api.handler, { port: 0, hostname: "127.0.0.1", cert: pki.certPem, key: pki.keyPem });
  const url = `https://127.0.0.1:${server.port}`;
  const admin = await newToken({ role: "admin", description: "test admin" });
  const secrets = api.types.find((t) => t.kind === "Secret")!;
  await api.handler.objects.create(secrets, TOKEN_NAMESPACE, admin.secret, { user: SYSTEM_USER });
  const kubeconfigPath = join(dataDir, "admin.kubeconfig");
  await writeKubeconfig(kubeconfigPath, {
    server: url,
    caPem: pki.caPem,
    token: admin.token,
    clusterName: "skiff",
    userName: "skiff-admin",
    contextName: "skiff",
  });
  return {
    url,
    kubeconfigPath,
    handler: api.handler,
    types: api.types,
    pki,
    async stop() {
      api.close();
      await server.shutdown();
      await store.close();
    },
  };
}

/** Starts a control plane in a temporary directory, runs `fn`, and cleans everything up. */
export async function withCluster(fn: (cluster: TestCluster) => Promise<void>, options: ClusterOptions = {}) {
  const dir = await Deno.makeTempDir({ prefix: "skiff-cli-" });
  const dataDir = join(dir, "data");
  const server: TestServer = options.apiOnly ? await startApiOnly(dataDir, options.clock) : await startControlPlane({
    dataDir,
    port: 0,
    bind: "127.0.0.1",
    log: () => {},
    ...(options.clock ? { clock: options.clock } : {}),
  });
  const admin = new ApiClient({ server: "https://in-process", transport: server.handler.as(SYSTEM_USER) });
  const cluster: TestCluster = {
    server,
    kubeconfig: server.kubeconfigPath,
    admin,
    dir,
    async run(args, runOptions = {}) {
      const captured = captureIo({
        ...runOptions,
        env: { KUBECONFIG: server.kubeconfigPath, HOME: dir, ...(runOptions.env ?? {}) },
      });
      const code = await runCli(args, captured.io);
      return { code, stdout: captured.stdout(), stderr: captured.stderr() };
    },
    start(args, runOptions = {}) {
      const stop = new AbortController();
      const captured = captureIo({
        ...runOptions,
        env: { KUBECONFIG: server.kubeconfigPath, HOME: dir, ...(runOptions.env ?? {}) },
        signal: runOptions.signal ? AbortSignal.any([runOptions.signal, stop.signal]) : stop.signal,
      });
      return startRun(args, { captured, stop });
    },
  };
  try {
    await fn(cluster);
  } finally {
    await server.stop();
    await Deno.remove(dir, { recursive: true });
  }
}

/** Compares `actual` with the golden file `name` under testdata/golden (rewritten with UPDATE_GOLDEN=1). */
export async function assertGolden(name: string, actual: string): Promise<void> {
  const path = join(TESTDATA, "golden", name);
  if (Deno.env.get("UPDATE_GOLDEN") === "1") {
    await Deno.mkdir(dirname(path), { recursive: true });
    await Deno.writeTextFile(path, actual);
    return;
  }
  const expected = await Deno.readTextFile(path);
  if (actual !== expected) {
    throw new Error(`output differs from golden file ${path}:\n--- expected\n${expected}\n--- actual\n${actual}`);
  }
}

/** Reads the objects of a YAML file under testdata. */
export async function fixture(name: string): Promise<KubeObject[]> {
  const text = await Deno.readTextFile(join(TESTDATA, name));
  return YAML.parseAllDocuments(text).map((d) => d.toJS() as KubeObject).filter((o) => o);
}

/**
 * Puts objects in the cluster as their owners would: metrics PUT to
 * metrics.k8s.io as the agents push them (kept in memory), other
 * objects created through the API and then given their `status` through
 * the status subresource, as agents and controllers report it.
 */
export async function seed(cluster: TestCluster, objects: readonly KubeObject[]): Promise<void> {
  for (const obj of objects) {
    if (obj.apiVersion === "metrics.k8s.io/v1beta1") {
      const resource = obj.kind === "NodeMetrics" ? "nodes" : "pods";
      const ns = obj.metadata.namespace ? `namespaces/${obj.metadata.namespace}/` : "";
      const url = `https://in-process/apis/metrics.k8s.io/v1beta1/${ns}${resource}/${obj.metadata.name}`;
      const response = await cluster.server.handler.as(SYSTEM_USER)(
        new Request(url, { method: "PUT", body: JSON.stringify(obj), headers: { "content-type": "application/json" } }),
      );
      if (!response.ok) throw new Error(`seeding ${obj.kind} ${obj.metadata.name}: ${await response.text()}`);
      continue;
    }
    const { status, ...rest } = obj;
    const resource = cluster.admin.kind(obj.apiVersion!, obj.kind!);
    const created = await resource.create(structuredClone(rest) as KubeObject);
    if (status !== undefined) await resource.updateStatus({ ...created, status });
  }
}

/** When the homelab fixture starts. */
export const T0 = Date.UTC(2026, 0, 1);
/** One hour in ms. */
export const HOUR = 3_600_000;
/** The time the homelab tests run at: three days after T0. */
export const NOW = T0 + 3 * 24 * HOUR;

/** Seeds the homelab fixture with creation times spread over three days, then sets the clock to NOW. */
async function seedHomelab(cluster: TestCluster, clock: SetClock): Promise<void> {
  const objects = await fixture("cluster.yaml");
  for (const obj of objects) {
    const offsets: Record<string, number> = {
      "pi-1": 0,
      "pi-2": 2 * HOUR,
      "nuc": 30 * HOUR,
      "web-1": 48 * HOUR,
      "web-2": 70 * HOUR,
      "db-0": NOW - T0 - 5 * 60_000 - 10_000,
      "backup-28912": 71 * HOUR,
    };
    // Metrics are readings of "now" (the server drops those older than two minutes).
    const metrics = obj.apiVersion === "metrics.k8s.io/v1beta1";
    clock.time = metrics ? NOW : T0 + (offsets[obj.metadata.name!] ?? 0);
    await seed(cluster, [obj]);
  }
  clock.time = NOW;
}

/**
 * Runs `fn` against a cluster seeded with the homelab fixture
 * (testdata/cluster.yaml), the clock at NOW. The fixture plays the agents
 * and controllers (node and pod statuses, metrics), so the API is served
 * alone (`apiOnly`), and nothing else rewrites what the tests print.
 */
export function withHomelab(fn: (cluster: TestCluster, clock: SetClock) => Promise<void>): Promise<void> {
  const clock = new SetClock(T0);
  return withCluster(async (cluster) => {
    await seedHomelab(cluster, clock);
    await fn(cluster, clock);
  }, { clock, apiOnly: true });
}

/** Capture options whose clock is `clock`. */
export const at = (clock: SetClock): { now: () => number } => ({ now: () => clock.time });

/**
 * Serves the cluster's API behind a second HTTPS listener (same
 * certificate, so the kubeconfig's CA trusts it) where `intercept` may
 * answer some requests itself: the stand-in for endpoints that a later
 * component will serve (pods/log and pods/exec, served by the node agent).
 * Returns a kubeconfig that points at it.
 */
export async function serveInFront(
  cluster: TestCluster,
  intercept: (req: Request) => Response | Promise<Response> | undefined,
): Promise<{ kubeconfig: string; stop(): Promise<void> }> {
  const { certPem, keyPem } = cluster.server.pki;
  const front = Deno.serve(
    { hostname: "127.0.0.1", port: 0, cert: certPem, key: keyPem, onListen() {} },
    async (req) => await intercept(req) ?? await cluster.server.handler(req),
  );
  const config = YAML.parse(await Deno.readTextFile(cluster.kubeconfig));
  config.clusters[0].cluster.server = `https://127.0.0.1:${front.addr.port}`;
  const kubeconfig = join(cluster.dir, "front.kubeconfig");
  await Deno.writeTextFile(kubeconfig, YAML.stringify(config));
  return { kubeconfig, stop: () => front.shutdown() };
}

/** The requests sent through {@linkcode recordRequests}'s listener. */
export interface RequestLog {
  /** A kubeconfig whose server is the recording listener (pass it as KUBECONFIG). */
  kubeconfig: string;
  /** What was requested so far, in order. */
  requests: URL[];
  /**
   * Resolves with the first request whose path and query
   * (`/api/v1/namespaces?watch=true&...`) match `pattern`, once it has
   * arrived. Rejects, naming the pattern and the requests seen, after
   * `timeoutMs` (default {@linkcode WAIT_TIMEOUT_MS}).
   */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<URL>;
  /** Stops the listener. */
  stop(): Promise<void>;
}

/**
 * Serves the cluster's API behind a listener that records every request,
 * for tests that must know a command has reached a point that prints
 * nothing (a `--watch-only` watch has been sent, so its list is done).
 */
export async function recordRequests(cluster: TestCluster): Promise<RequestLog> {
  const requests: URL[] = [];
  const changes = new Changes();
  const front = await serveInFront(cluster, (req) => {
    requests.push(new URL(req.url));
    changes.notify();
    return undefined;
  });
  const pathAndQuery = (url: URL) => url.pathname + url.search;
  return {
    kubeconfig: front.kubeconfig,
    requests,
    async waitFor(pattern, timeoutMs = WAIT_TIMEOUT_MS) {
      const find = () => requests.find((url) => pathAndQuery(url).search(pattern) >= 0);
      await changes.until(() => find() !== undefined, {
        timeoutMs,
        timedOut: () =>
          new Error(
            `no request matching ${pattern} within ${timeoutMs} ms; requests so far:\n${
              requests.map(pathAndQuery).join("\n") || "(none)"
            }`,
          ),
      });
      return find()!;
    },
    stop: front.stop,
  };
}
