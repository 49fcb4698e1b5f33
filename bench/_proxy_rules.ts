/**
 * The rule-table part of the proxy benchmark, run inside a throwaway network
 * namespace by `bench/proxy.ts` (`ip netns exec <ns> deno run -A
 * bench/_proxy_rules.ts [--quick]`), so that `nft` runs there directly as it
 * does on a node, without an `ip netns exec` of its own per command. Prints
 * its figures as JSON lines.
 *
 * @module
 */

import { type EndpointSlice, LABEL_SERVICE_NAME, type Service } from "../api/mod.ts";
import { ApiClient } from "../client/mod.ts";
import { startControlPlane, SYSTEM_USER } from "../control-plane/mod.ts";
import {
  buildRuleset,
  NftTable,
  type ProxyService,
  type ProxyState,
  RulesetBuilder,
  ServiceProxy,
  type ServiceProxyApplyReport,
} from "../node-agent/mod.ts";
import { percentile, quick, report } from "./_report.ts";
import { ENDPOINTS, services } from "./_proxy_services.ts";

const BENCH = "proxy";
const POD_CIDR = "10.42.1.0/24";

function stateOf(list: ProxyService[]): ProxyState {
  return { services: list, nodeAddresses: ["192.168.77.2"], podCidr: POD_CIDR };
}

/** Runs `fn` with the table removed before and after. */
async function withEmptyTable<T>(fn: (table: NftTable) => Promise<T>): Promise<T> {
  const table = new NftTable();
  await table.remove();
  try {
    return await fn(table);
  } finally {
    await table.remove();
  }
}

async function ruleScale(count: number): Promise<void> {
  await withEmptyTable(async (table) => {
    // Versioned as the proxy versions them (by resourceVersions): a change bumps the Service's version.
    const list = services(count).map((svc) => ({ ...svc, version: "1" }));
    const builder = new RulesetBuilder();
    const t0 = performance.now();
    const ruleset = builder.build(stateOf(list));
    const renderMs = performance.now() - t0;
    const applied = await table.apply(ruleset);
    const detail = { services: count, endpoints_per_service: ENDPOINTS, mode: applied.mode };
    report({ bench: BENCH, metric: "render_ms", value: renderMs, unit: "ms", ...detail });
    report({ bench: BENCH, metric: "apply_ms", value: applied.durationMs, unit: "ms", ...detail });
    report({
      bench: BENCH,
      metric: "render_and_apply_ms",
      value: renderMs + applied.durationMs,
      unit: "ms",
      ...(count === 1000 ? { target_ms: 1000 } : {}),
      script_mb: applied.scriptChars / 1e6,
      ...detail,
    });
    const rewrite = await table.apply(buildRuleset(stateOf(list)), { full: true });
    report({ bench: BENCH, metric: "full_rewrite_ms", value: rewrite.durationMs, unit: "ms", ...detail, mode: "full" });

    if (count !== 1000 && count !== 5000) return;
    const samples: number[] = [];
    const renderSamples: number[] = [];
    for (let round = 0; round < (quick ? 10 : 30); round++) {
      const svc = list[(round * 37) % count]!;
      const endpoint = svc.ports[0]!.endpoints[round % ENDPOINTS]!;
      endpoint.port = endpoint.port === 8080 ? 8081 : 8080;
      svc.version = String(round + 2);
      const start = performance.now();
      const next = builder.build(stateOf(list));
      renderSamples.push(performance.now() - start);
      const result = await table.apply(next);
      if (result.mode !== "update") throw new Error(`An endpoint change was applied as "${result.mode}"`);
      samples.push(performance.now() - start);
    }
    const changeDetail = { services: count, endpoints_per_service: ENDPOINTS, rounds: samples.length };
    report({
      bench: BENCH,
      metric: "endpoint_change_render_and_apply_p50",
      value: percentile(samples, 50),
      unit: "ms",
      target_ms: 100,
      ...changeDetail,
    });
    report({
      bench: BENCH,
      metric: "endpoint_change_render_and_apply_p99",
      value: percentile(samples, 99),
      unit: "ms",
      ...changeDetail,
    });
    report({
      bench: BENCH,
      metric: "endpoint_change_render_p50",
      value: percentile(renderSamples, 50),
      unit: "ms",
      ...changeDetail,
    });
  });
}

/** From an EndpointSlice update to the proxy's apply, through the API and informers. */
async function changeToApplied(count: number): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "skiff-bench-proxy-" });
  const plane = await startControlPlane({ dataDir: dir, port: 0, bind: "127.0.0.1", log: () => {} });
  const client = new ApiClient({ server: "https://in-process", transport: plane.handler.as(SYSTEM_USER) });
  try {
    await withEmptyTable(async () => {
      const svcApi = client.kind<Service>("v1", "Service");
      const sliceApi = client.kind<EndpointSlice>("discovery.k8s.io/v1", "EndpointSlice");
      const sliceOf = (svc: ProxyService, port: number): EndpointSlice => ({
        apiVersion: "discovery.k8s.io/v1",
        kind: "EndpointSlice",
        metadata: { name: svc.name, namespace: "default", labels: { [LABEL_SERVICE_NAME]: svc.name } },
        addressType: "IPv4",
        endpoints: svc.ports[0]!.endpoints.map((e) => ({ addresses: [e.address], conditions: { ready: true } })),
        ports: [{ name: "http", port, protocol: "TCP" }],
      });
      const list = services(count);
      for (let i = 0; i < list.length; i += 100) {
        await Promise.all(
          list.slice(i, i + 100).map(async (svc) => {
            await svcApi.create({
              apiVersion: "v1",
              kind: "Service",
              metadata: { name: svc.name, namespace: "default" },
              spec: { clusterIP: svc.clusterIP!, ports: [{ name: "http", port: 80 }] },
            });
            await sliceApi.create(sliceOf(svc, 8080));
          }),
        );
      }
      let applied: (report: ServiceProxyApplyReport) => void = () => {};
      const proxy = new ServiceProxy({
        source: { client },
        nodeAddresses: ["192.168.77.2"],
        podCidr: POD_CIDR,
        log: () => {},
        onApply: (r) => applied(r),
      });
      try {
        await proxy.start();
        const samples: number[] = [];
        for (let round = 0; round < (quick ? 5 : 20); round++) {
          const svc = list[(round * 37) % count]!;
          await new Promise((resolve) => setTimeout(resolve, 100)); // a quiet spell: no interval to wait out
          const current = await sliceApi.get(svc.name, { namespace: "default" });
          const done = new Promise<ServiceProxyApplyReport>((resolve) => applied = resolve);
          const start = performance.now();
          await sliceApi.update({ ...current, ports: [{ name: "http", port: 8000 + round, protocol: "TCP" }] });
          const result = await done;
          samples.push(performance.now() - start);
          if (result.mode !== "update") throw new Error(`An endpoint change was applied as "${result.mode}"`);
        }
        const detail = {
          services: count,
          endpoints_per_service: ENDPOINTS,
          rounds: samples.length,
          min_apply_interval_ms: 50,
        };
        report({
          bench: BENCH,
          metric: "endpoint_change_to_applied_p50",
          value: percentile(samples, 50),
          unit: "ms",
          target_ms: 100,
          ...detail,
        });
        report({
          bench: BENCH,
          metric: "endpoint_change_to_applied_p99",
          value: percentile(samples, 99),
          unit: "ms",
          ...detail,
        });
      } finally {
        await proxy.stop();
      }
    });
  } finally {
    await plane.stop();
    await Deno.remove(dir, { recursive: true });
  }
}

for (const count of quick ? [100, 1000] : [100, 1000, 5000]) await ruleScale(count);
await changeToApplied(1000);
