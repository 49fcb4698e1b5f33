import assert from "node:assert/strict";
import {
  matchesNodeSelector,
  matchesNodeSelectorTerm,
  noExecuteEvictionSeconds,
  parseFieldSelector,
  parseSelector,
  podMatchesNodeAffinity,
  preferredNodeAffinityScore,
  Selector,
  selectorFromLabelSelector,
  selectorFromSet,
  tolerates,
  untoleratedTaints,
} from "./selectors.ts";
import type { Taint } from "./types_core.ts";
import type { Toleration } from "./types_pod.ts";

Deno.test("parseSelector() reads every operator and prints requirements sorted by key", () => {
  const s = parseSelector("tier in (front, back), app=web,!canary , env!=prod,track==stable,x notin (a),gpu");
  assert.equal(s.toString(), "app=web,!canary,env!=prod,gpu,tier in (back,front),track==stable,x notin (a)");
  assert.ok(s.matches({ app: "web", tier: "front", track: "stable", gpu: "1" }));
  assert.ok(!s.matches({ app: "web", tier: "front", track: "stable", gpu: "1", canary: "" }));
  assert.ok(!s.matches({ app: "web", tier: "mid", track: "stable", gpu: "1" }));
  assert.ok(!s.matches({ app: "web", tier: "front", track: "stable", gpu: "1", env: "prod" }));
  assert.ok(!s.matches({ app: "web", tier: "front", track: "stable" }));
});

Deno.test("parseSelector() matches missing keys like Kubernetes", () => {
  assert.ok(parseSelector("env!=prod").matches({}));
  assert.ok(parseSelector("env notin (prod)").matches(undefined));
  assert.ok(!parseSelector("env in (prod)").matches({}));
  assert.ok(!parseSelector("env=").matches({}));
  assert.ok(parseSelector("env=").matches({ env: "" }));
  assert.ok(parseSelector("").matches({ any: "thing" }));
  assert.ok(parseSelector("").isEmpty());
});

Deno.test("parseSelector() supports integer comparisons and treats in/notin as values", () => {
  assert.ok(parseSelector("cores>2").matches({ cores: "4" }));
  assert.ok(!parseSelector("cores>2").matches({ cores: "two" }));
  assert.ok(parseSelector("cores<8").matches({ cores: "4" }));
  assert.ok(parseSelector("x=in").matches({ x: "in" }));
  assert.ok(parseSelector("x in (in,notin)").matches({ x: "notin" }));
  assert.equal(parseSelector("a in ()").toString(), "a in ()");
  assert.ok(parseSelector("a in (,b)").matches({ a: "" }));
});

Deno.test("parseSelector() explains bad syntax", () => {
  const cases: [string, RegExp][] = [
    ["a in b", /found 'b' expected: '\('/],
    ["a in (b", /found '', expected: ',' or '\)'/],
    ["a b", /found 'b', expected: in, notin, =, ==, !=, gt, lt/],
    ["a=b,", /found '', expected: identifier after ','/],
    ["=b", /found '=', expected: !, identifier, or 'end of string'/],
    ["a=b c", /found 'c', expected: ',' or 'end of string'/],
    ["a>b", /value must be an integer/],
    ["Bad Key=x", /expected/],
    ["a=b c d", /end of string/],
    ["a=-x", /invalid label value "-x"/],
    ["a/b/c", /invalid label key "a\/b\/c"/],
  ];
  for (const [input, message] of cases) {
    assert.throws(
      () => parseSelector(input),
      (e: unknown) => e instanceof TypeError && message.test(e.message) && e.message.includes(JSON.stringify(input)),
      input,
    );
  }
  assert.throws(() => parseSelector(42 as unknown as string), TypeError);
});

Deno.test("selectorFromLabelSelector() converts matchLabels and matchExpressions", () => {
  const s = selectorFromLabelSelector({
    matchLabels: { app: "db" },
    matchExpressions: [
      { key: "tier", operator: "In", values: ["a", "b"] },
      { key: "legacy", operator: "DoesNotExist" },
      { key: "zone", operator: "Exists" },
      { key: "env", operator: "NotIn", values: ["dev"] },
    ],
  });
  assert.equal(s.toString(), "app=db,env notin (dev),!legacy,tier in (a,b),zone");
  assert.ok(s.matches({ app: "db", tier: "a", zone: "z1" }));
  assert.ok(!s.matches({ app: "db", tier: "a" }));
  assert.ok(selectorFromLabelSelector({}).matches({ any: "x" }));
  assert.ok(!selectorFromLabelSelector(null).matches({}));
  assert.ok(!Selector.nothing().matches({}));
  assert.throws(
    () => selectorFromLabelSelector({ matchExpressions: [{ key: "a", operator: "Foo" as "In" }] }),
    /"Foo" is not a valid label selector operator/,
  );
  assert.throws(
    () => selectorFromLabelSelector({ matchExpressions: [{ key: "a", operator: "In" }] }),
    /can't be empty/,
  );
  assert.throws(() => selectorFromLabelSelector({ matchLabels: "x" as never }), TypeError);
});

Deno.test("selectorFromSet() requires every key with its value", () => {
  const s = selectorFromSet({ app: "web", tier: "front" });
  assert.ok(s.matches({ app: "web", tier: "front", extra: "1" }));
  assert.ok(!s.matches({ app: "web" }));
  assert.equal(s.requiresExactMatch("app"), "web");
  assert.equal(s.toString(), "app=web,tier=front");
});

Deno.test("parseFieldSelector() handles =, ==, != and escapes", () => {
  const s = parseFieldSelector("spec.nodeName=pi-3,status.phase!=Failed,metadata.name==a\\,b");
  assert.equal(s.exactMatch("spec.nodeName"), "pi-3");
  assert.equal(s.exactMatch("metadata.name"), "a,b");
  const fields: Record<string, string> = { "spec.nodeName": "pi-3", "status.phase": "Running", "metadata.name": "a,b" };
  assert.ok(s.matches((f) => fields[f]));
  assert.ok(!s.matches((f) => ({ ...fields, "status.phase": "Failed" })[f]));
  assert.equal(s.toString(), "metadata.name=a\\,b,spec.nodeName=pi-3,status.phase!=Failed");
  assert.ok(parseFieldSelector("spec.nodeName=").matches(() => undefined));
  assert.ok(parseFieldSelector("").isEmpty());
});

Deno.test("parseFieldSelector() rejects terms without operators and bad escapes", () => {
  assert.throws(() => parseFieldSelector("spec.nodeName"), /can't understand 'spec.nodeName'/);
  assert.throws(() => parseFieldSelector("a=b\\x"), /invalid escape sequence: \\x/);
  assert.throws(() => parseFieldSelector("a=b=c"), /unescaped character in value: =/);
});

const node = {
  metadata: { name: "pi-3", labels: { "kubernetes.io/arch": "arm64", cores: "4", disk: "ssd" } },
};

Deno.test("matchesNodeSelectorTerm() applies expressions and metadata.name fields", () => {
  assert.ok(matchesNodeSelectorTerm({
    matchExpressions: [{ key: "kubernetes.io/arch", operator: "In", values: ["arm64", "arm"] }],
  }, node));
  assert.ok(matchesNodeSelectorTerm({ matchExpressions: [{ key: "cores", operator: "Gt", values: ["2"] }] }, node));
  assert.ok(!matchesNodeSelectorTerm({ matchExpressions: [{ key: "cores", operator: "Lt", values: ["2"] }] }, node));
  assert.ok(
    matchesNodeSelectorTerm({ matchFields: [{ key: "metadata.name", operator: "In", values: ["pi-3"] }] }, node),
  );
  assert.ok(
    !matchesNodeSelectorTerm({ matchFields: [{ key: "metadata.name", operator: "NotIn", values: ["pi-3"] }] }, node),
  );
  assert.ok(!matchesNodeSelectorTerm({}, node), "an empty term matches nothing");
  assert.ok(!matchesNodeSelectorTerm({ matchExpressions: [{ key: "x", operator: "Bad" as "In" }] }, node));
});

Deno.test("matchesNodeSelector() ORs terms", () => {
  assert.ok(matchesNodeSelector({
    nodeSelectorTerms: [
      { matchExpressions: [{ key: "disk", operator: "In", values: ["hdd"] }] },
      { matchExpressions: [{ key: "disk", operator: "Exists" }] },
    ],
  }, node));
  assert.ok(!matchesNodeSelector({ nodeSelectorTerms: [] }, node));
});

Deno.test("podMatchesNodeAffinity() needs both nodeSelector and required affinity", () => {
  const required = {
    nodeSelectorTerms: [{ matchExpressions: [{ key: "disk", operator: "In" as const, values: ["ssd"] }] }],
  };
  assert.ok(podMatchesNodeAffinity({ spec: {} }, node));
  assert.ok(podMatchesNodeAffinity({ spec: { nodeSelector: { disk: "ssd" } } }, node));
  assert.ok(!podMatchesNodeAffinity({ spec: { nodeSelector: { disk: "hdd" } } }, node));
  assert.ok(
    podMatchesNodeAffinity({
      spec: {
        nodeSelector: { disk: "ssd" },
        affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: required } },
      },
    }, node),
  );
  assert.ok(!podMatchesNodeAffinity({ spec: { nodeSelector: { "bad key": "x" } } }, node));
});

Deno.test("preferredNodeAffinityScore() sums the weights of matching terms", () => {
  assert.equal(
    preferredNodeAffinityScore([
      { weight: 10, preference: { matchExpressions: [{ key: "disk", operator: "In", values: ["ssd"] }] } },
      { weight: 5, preference: { matchExpressions: [{ key: "disk", operator: "In", values: ["hdd"] }] } },
      { weight: 1, preference: { matchExpressions: [{ key: "cores", operator: "Gt", values: ["1"] }] } },
    ], node),
    11,
  );
  assert.equal(preferredNodeAffinityScore(undefined, node), 0);
});

const notReady: Taint = { key: "node.kubernetes.io/not-ready", effect: "NoExecute" };
const gpu: Taint = { key: "gpu", value: "true", effect: "NoSchedule" };
const soft: Taint = { key: "busy", effect: "PreferNoSchedule" };

Deno.test("tolerates() matches key, value, operator and effect", () => {
  assert.ok(tolerates({ key: "gpu", operator: "Equal", value: "true", effect: "NoSchedule" }, gpu));
  assert.ok(tolerates({ key: "gpu", value: "true" }, gpu));
  assert.ok(!tolerates({ key: "gpu", value: "false" }, gpu));
  assert.ok(tolerates({ key: "gpu", operator: "Exists" }, gpu));
  assert.ok(tolerates({ operator: "Exists" }, gpu), "empty key with Exists tolerates everything");
  assert.ok(!tolerates({ key: "gpu", operator: "Exists", effect: "NoExecute" }, gpu));
  assert.ok(!tolerates({ key: "gpu", operator: "Bogus" as "Exists" }, gpu));
});

Deno.test("untoleratedTaints() filters by effect", () => {
  const tolerations: Toleration[] = [{ key: "gpu", operator: "Exists" }];
  assert.deepEqual(untoleratedTaints(tolerations, [notReady, gpu, soft], ["NoSchedule", "NoExecute"]), [notReady]);
  assert.deepEqual(untoleratedTaints(tolerations, [notReady, gpu, soft], ["PreferNoSchedule"]), [soft]);
  assert.deepEqual(untoleratedTaints(undefined, [gpu]), [gpu]);
  assert.deepEqual(untoleratedTaints(tolerations, undefined), []);
});

Deno.test("noExecuteEvictionSeconds() uses the shortest tolerationSeconds", () => {
  assert.equal(noExecuteEvictionSeconds([], [notReady]), 0);
  assert.equal(noExecuteEvictionSeconds([], [gpu]), Infinity);
  assert.equal(
    noExecuteEvictionSeconds([{ key: notReady.key, operator: "Exists", effect: "NoExecute" }], [notReady]),
    Infinity,
  );
  assert.equal(
    noExecuteEvictionSeconds([
      { key: notReady.key, operator: "Exists", effect: "NoExecute", tolerationSeconds: 300 },
      { operator: "Exists", effect: "NoExecute", tolerationSeconds: 60 },
    ], [notReady]),
    60,
  );
  assert.equal(
    noExecuteEvictionSeconds([{ key: notReady.key, operator: "Exists", tolerationSeconds: -5 }], [notReady]),
    0,
  );
});
