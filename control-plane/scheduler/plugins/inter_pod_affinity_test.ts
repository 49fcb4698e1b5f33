import assert from "node:assert/strict";
import type { Affinity } from "@skiff/api";
import { cluster, info, node, pod } from "../_testing.ts";
import {
  interPodAffinity,
  REASON_AFFINITY,
  REASON_ANTI_AFFINITY,
  REASON_EXISTING_ANTI_AFFINITY,
} from "./inter_pod_affinity.ts";

const HOST = "kubernetes.io/hostname";
const term = (app: string, topologyKey = HOST) => ({ labelSelector: { matchLabels: { app } }, topologyKey });

Deno.test("InterPodAffinity anti-affinity on the hostname keeps replicas on different nodes", () => {
  const affinity: Affinity = { podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [term("web")] } };
  const c = cluster([node("a"), node("b")], [pod("w1", { nodeName: "a", labels: { app: "web" }, spec: { affinity } })]);
  const p = info("w2", { labels: { app: "web" }, spec: { affinity } });
  const state = interPodAffinity.prepare!(p, c)!;
  assert.equal(interPodAffinity.filter!(p, c.node("b")!, state), undefined);
  assert.equal(interPodAffinity.filter!(p, c.node("a")!, state), REASON_EXISTING_ANTI_AFFINITY);
  const stranger = info("x", { labels: { app: "web" } });
  assert.equal(
    interPodAffinity.filter!(stranger, c.node("a")!, interPodAffinity.prepare!(stranger, c)!),
    REASON_EXISTING_ANTI_AFFINITY,
  );
});

Deno.test("InterPodAffinity required anti-affinity of the incoming pod refuses domains with matching pods", () => {
  const c = cluster([node("a"), node("b")], [pod("db", { nodeName: "a", labels: { app: "db" } })]);
  const p = info("w", {
    spec: { affinity: { podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [term("db")] } } },
  });
  const state = interPodAffinity.prepare!(p, c)!;
  assert.equal(interPodAffinity.filter!(p, c.node("a")!, state), REASON_ANTI_AFFINITY);
  assert.equal(interPodAffinity.filter!(p, c.node("b")!, state), undefined);
});

Deno.test("InterPodAffinity required affinity needs a matching pod in the domain, unless the pod starts the group", () => {
  const c = cluster([node("a"), node("b")], [pod("cache", { nodeName: "b", labels: { app: "cache" } })]);
  const p = info("w", {
    spec: { affinity: { podAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [term("cache")] } } },
  });
  const state = interPodAffinity.prepare!(p, c)!;
  assert.equal(interPodAffinity.filter!(p, c.node("a")!, state), REASON_AFFINITY);
  assert.equal(interPodAffinity.filter!(p, c.node("b")!, state), undefined);
  const first = info("f", {
    labels: { app: "group" },
    spec: { affinity: { podAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [term("group")] } } },
  });
  assert.equal(interPodAffinity.filter!(first, c.node("a")!, interPodAffinity.prepare!(first, c)!), undefined);
});

Deno.test("InterPodAffinity preferred terms score domains by weight, anti-affinity negative", () => {
  const c = cluster([node("a"), node("b"), node("c")], [
    pod("cache", { nodeName: "a", labels: { app: "cache" } }),
    pod("noisy", { nodeName: "b", labels: { app: "noisy" } }),
  ]);
  const p = info("w", {
    spec: {
      affinity: {
        podAffinity: {
          preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 10, podAffinityTerm: term("cache") }],
        },
        podAntiAffinity: {
          preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 10, podAffinityTerm: term("noisy") }],
        },
      },
    },
  });
  const state = interPodAffinity.prepare!(p, c)!;
  const scores = Float64Array.from(["a", "b", "c"].map((n) => interPodAffinity.score!(p, c.node(n)!, state)));
  interPodAffinity.normalize!(scores, state);
  assert.deepEqual([...scores], [100, 0, 50]);
  assert.equal(interPodAffinity.prepare!(info("plain"), c), undefined);
});

Deno.test("InterPodAffinity looks in the namespaces a namespaceSelector picks", () => {
  const c = cluster([node("a"), node("b")], [pod("db", { namespace: "data", nodeName: "a", labels: { app: "db" } })], {
    data: { team: "x" },
  });
  const withSelector = {
    ...term("db"),
    namespaceSelector: { matchLabels: { team: "x" } },
  };
  const p = info("w", {
    spec: { affinity: { podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [withSelector] } } },
  });
  assert.equal(interPodAffinity.filter!(p, c.node("a")!, interPodAffinity.prepare!(p, c)!), REASON_ANTI_AFFINITY);
  const sameNs = info("v", {
    spec: { affinity: { podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [term("db")] } } },
  });
  assert.equal(interPodAffinity.filter!(sameNs, c.node("a")!, interPodAffinity.prepare!(sameNs, c)!), undefined);
});
