/**
 * Service proxy benchmark (needs root, nft, ip, busybox and the CNI plugins):
 *
 * - the time to render and apply the whole `skiff` table for 100, 1,000 and
 *   5,000 Services × 10 endpoints, into an empty table, and to rewrite it in
 *   full once it is there;
 * - a single endpoint change at 1,000 (and 5,000) Services: render (by a
 *   `RulesetBuilder` that renders only the changed Service again, as the
 *   proxy does) and apply of the difference, and through a running `ServiceProxy` against an
 *   in-process control plane, from the EndpointSlice write to the table
 *   applied (after a quiet spell, so not held back by its 50 ms interval);
 *
 *   these two run in `bench/_proxy_rules.ts` inside a throwaway network
 *   namespace, so `nft` runs there as it does on a node;
 * - HTTP requests per second through a ClusterIP versus straight to the pod
 *   IP, in the same run, rounds taken in turn: two lab nodes with host-gw
 *   routes, busybox httpd in a pod on one, the load generator (a small Deno
 *   closed-loop client, `bench/_proxy_load.ts`, one connection per request)
 *   in a pod on the other, each node's table holding 1,000 other Services.
 *
 * `deno task bench proxy [--quick]` (`--quick`: no 5,000, fewer and shorter rounds)
 *
 * @module
 */

import { join } from "node:path";
import { run } from "../node-agent/_exec.ts";
import { buildRuleset, CniPodNetwork, HostGwRoutes, NftTable, type ProxyService } from "../node-agent/mod.ts";
import { createLab } from "../test/support/mod.ts";
import { percentile, quick, report } from "./_report.ts";
import { services } from "./_proxy_services.ts";

const BENCH = "proxy";

/** Requests per second through a ClusterIP and straight to the pod, rounds in turn. */
async function throughput(): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "skiff-bench-proxy-" });
  await using lab = await createLab({ nodes: 2 });
  const networks: CniPodNetwork[] = [];
  const tables: NftTable[] = [];
  let server: Deno.ChildProcess | undefined;
  try {
    const nodes = lab.nodes.map((node, i) => {
      const network = new CniPodNetwork({
        nodeName: node.netns,
        podCidr: `10.42.${i + 1}.0/24`,
        stateDir: join(dir, node.netns),
        hostNetns: node.netns,
        ipMasq: false,
      });
      networks.push(network);
      return { node, network };
    });
    const cidrs = Object.fromEntries(nodes.map(({ node, network }) => [node.address, network.podCidr]));
    for (const { node } of nodes) {
      const routes = new HostGwRoutes({ netns: node.netns });
      await routes.prepare();
      await routes.syncRoutes({ podCidrsByNodeAddress: cidrs, own: node.address });
    }
    const client = await nodes[0]!.network.setup({ podUid: crypto.randomUUID(), namespace: "bench", name: "client" });
    const pod = await nodes[1]!.network.setup({ podUid: crypto.randomUUID(), namespace: "bench", name: "server" });
    const root = join(dir, "www");
    await Deno.mkdir(root);
    await Deno.writeTextFile(join(root, "index.html"), "x".repeat(512));
    server = new Deno.Command("ip", {
      args: ["netns", "exec", pod.netnsName, "busybox", "httpd", "-f", "-p", "80", "-h", root],
      stdout: "null",
      stderr: "null",
    }).spawn();
    const clusterIP = "10.43.250.1";
    const bench: ProxyService = {
      namespace: "bench",
      name: "web",
      clusterIP,
      ports: [{ name: "", protocol: "TCP", port: 80, endpoints: [{ address: pod.ip, port: 80 }] }],
    };
    for (const { node, network } of nodes) {
      const table = new NftTable({ netns: node.netns });
      tables.push(table);
      await table.apply(buildRuleset({
        services: [...services(1000, 1), bench],
        nodeAddresses: [node.address],
        podCidr: network.podCidr,
      }));
    }
    for (
      let tries = 0;
      (await run(["busybox", "wget", "-qO-", `http://${pod.ip}/`], { netns: client.netnsName, check: false })).code !==
        0;
      tries++
    ) {
      if (tries > 50) throw new Error("The benchmark's httpd did not answer");
      await new Promise((resolve) => setTimeout(resolve, 100));
    }

    const seconds = quick ? 2 : 4;
    const concurrency = 8;
    const load = async (host: string) => {
      const { stdout } = await run(
        [
          Deno.execPath(),
          "run",
          "-A",
          new URL("./_proxy_load.ts", import.meta.url).pathname,
          host,
          "80",
          String(seconds),
          String(concurrency),
        ],
        { netns: client.netnsName, timeoutMs: (seconds + 30) * 1000 },
      );
      return JSON.parse(stdout.trim().split("\n").at(-1)!) as {
        requests: number;
        errors: number;
        seconds: number;
        p50Ms: number;
        p99Ms: number;
      };
    };
    const targets = {
      direct: { host: pod.ip, rates: [] as number[], p50: [] as number[], p99: [] as number[] },
      cluster_ip: { host: clusterIP, rates: [] as number[], p50: [] as number[], p99: [] as number[] },
    };
    let errors = 0;
    await load(pod.ip); // warm-up: the generator's first start compiles and caches it
    for (let round = 0; round < (quick ? 2 : 4); round++) {
      const order = round % 2 === 0 ? [targets.direct, targets.cluster_ip] : [targets.cluster_ip, targets.direct];
      for (const target of order) {
        const result = await load(target.host);
        target.rates.push(result.requests / result.seconds);
        target.p50.push(result.p50Ms);
        target.p99.push(result.p99Ms);
        errors += result.errors;
      }
    }
    const detail = {
      concurrency,
      seconds_per_round: seconds,
      rounds: targets.direct.rates.length,
      other_services: 1000,
      client: "deno raw TCP, one connection per request",
      server: "busybox httpd",
    };
    for (const [name, target] of Object.entries(targets)) {
      const perSecond = percentile([...target.rates], 50);
      report({ bench: BENCH, metric: `http_requests_per_second_${name}`, value: perSecond, unit: "req/s", ...detail });
      report({
        bench: BENCH,
        metric: `http_latency_p50_${name}`,
        value: percentile(target.p50, 50),
        unit: "ms",
        ...detail,
      });
      report({
        bench: BENCH,
        metric: `http_latency_p99_${name}`,
        value: percentile(target.p99, 50),
        unit: "ms",
        ...detail,
      });
    }
    const directRate = percentile([...targets.direct.rates], 50);
    const clusterRate = percentile([...targets.cluster_ip.rates], 50);
    report({
      bench: BENCH,
      metric: "cluster_ip_to_direct_ratio",
      value: clusterRate / directRate,
      unit: "ratio",
      target: 0.95,
      ...detail,
    });
    report({ bench: BENCH, metric: "http_errors", value: errors, unit: "count", ...detail });
  } finally {
    if (server) {
      try {
        server.kill("SIGKILL");
      } catch {
        // Already gone.
      }
      await server.status;
    }
    for (const table of tables) await table.remove().catch(() => {});
    for (const network of networks) await network.gc([]).catch(() => {});
    await Deno.remove(dir, { recursive: true });
  }
}

for (const program of ["ip", "nft", "busybox"]) {
  if ((await run(["sh", "-c", `command -v ${program}`], { check: false })).code !== 0) {
    console.error(`The proxy benchmark needs "${program}" on PATH (and root): install it and run again`);
    Deno.exit(2);
  }
}
const netns = `skiff-bench-${crypto.randomUUID().slice(0, 8)}`;
await run(["ip", "netns", "add", netns]);
try {
  const script = new URL("./_proxy_rules.ts", import.meta.url).pathname;
  const { stdout } = await run([Deno.execPath(), "run", "-A", script, ...(quick ? ["--quick"] : [])], {
    netns,
    timeoutMs: 20 * 60_000,
  });
  console.log(stdout.trimEnd());
} finally {
  await run(["ip", "netns", "del", netns], { check: false });
}
await throughput();
