import assert from "node:assert/strict";
import { startHarness } from "./_test_harness.ts";

// Bodies kubectl 1.32 sent (captured with -v=9 against Skiff's API server).
/** `kubectl auth can-i create pods/exec -n kube-system` (TYPE/NAME: the pod named "exec"). */
const KUBECTL_ACCESS_REVIEW =
  "6b3873000a320a17617574686f72697a6174696f6e2e6b38732e696f2f7631121753656c665375626a65637441" +
  "636365737352657669657712470a100a0012001a0022002a0032003800420012290a270a0b6b7562652d73797374656d12066372656174651a" +
  "0022002a04706f647332003a04657865631a08080012001a0020001a002200";
/** `kubectl auth can-i --list -n kube-system`. */
const KUBECTL_RULES_REVIEW =
  "6b3873000a310a17617574686f72697a6174696f6e2e6b38732e696f2f7631121653656c665375626a6563745275" +
  "6c657352657669657712270a100a0012001a0022002a00320038004200120d0a0b6b7562652d73797374656d1a04180022001a002200";

const PROTOBUF = "application/vnd.kubernetes.protobuf";
const ACCESS = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews";
const RULES = "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews";

function hex(text: string): Uint8Array {
  return Uint8Array.from(text.match(/../g)!, (pair) => parseInt(pair, 16));
}

const review = (resourceAttributes: Record<string, string>) => ({
  apiVersion: "authorization.k8s.io/v1",
  kind: "SelfSubjectAccessReview",
  spec: { resourceAttributes },
});

Deno.test("SelfSubjectAccessReview answers kubectl auth can-i for each role, as protobuf or JSON", async () => {
  await using h = await startHarness();
  const admin = await h.call("POST", ACCESS, { body: hex(KUBECTL_ACCESS_REVIEW), contentType: PROTOBUF });
  assert.equal(admin.status, 201, JSON.stringify(admin.body));
  assert.equal(admin.body.kind, "SelfSubjectAccessReview");
  assert.deepEqual(admin.body.spec.resourceAttributes, {
    namespace: "kube-system",
    verb: "create",
    resource: "pods",
    name: "exec",
  });
  assert.equal(admin.body.status.allowed, true);
  const asViewer = async (attrs: Record<string, string>) =>
    (await h.call("POST", ACCESS, { body: review(attrs), token: h.tokens.viewer })).body.status;
  assert.equal((await asViewer({ verb: "list", resource: "pods", namespace: "default" })).allowed, true);
  assert.equal((await asViewer({ verb: "create", group: "apps", resource: "deployments" })).allowed, false);
  const secrets = await asViewer({ verb: "get", resource: "secrets", namespace: "default" });
  assert.equal(secrets.allowed, false);
  assert.match(secrets.reason, /viewers may not read secrets/);
  const node = await h.call("POST", ACCESS, {
    body: review({ verb: "update", resource: "nodes", name: "node-b" }),
    token: h.tokens.nodeA,
  });
  assert.equal(node.status, 201);
  assert.equal(node.body.status.allowed, false);
});

Deno.test("SelfSubjectAccessReview refuses a review without exactly one kind of attributes, naming the field", async () => {
  await using h = await startHarness();
  const neither = await h.call("POST", ACCESS, {
    body: { apiVersion: "authorization.k8s.io/v1", kind: "SelfSubjectAccessReview", spec: {} },
  });
  assert.equal(neither.status, 422);
  assert.match(neither.body.message, /spec\.resourceAttributes: .*exactly one/);
  const wrongType = await h.call("POST", ACCESS, { body: review({ verb: 5 } as unknown as Record<string, string>) });
  assert.equal(wrongType.status, 422);
  assert.match(wrongType.body.message, /spec\.resourceAttributes\.verb: must be a string/);
  const wrongKind = await h.call("POST", ACCESS, { body: { apiVersion: "v1", kind: "Pod" } });
  assert.equal(wrongKind.status, 400);
  assert.equal((await h.call("POST", ACCESS, { body: review({}), token: null })).status, 401);
});

Deno.test("SelfSubjectRulesReview lists what the caller's role may do for kubectl auth can-i --list", async () => {
  await using h = await startHarness();
  const admin = await h.call("POST", RULES, { body: hex(KUBECTL_RULES_REVIEW), contentType: PROTOBUF });
  assert.equal(admin.status, 201, JSON.stringify(admin.body));
  assert.deepEqual(admin.body.spec, { namespace: "kube-system" });
  assert.deepEqual(admin.body.status.resourceRules, [{ verbs: ["*"], apiGroups: ["*"], resources: ["*"] }]);
  const viewer = await h.call("POST", RULES, {
    body: { apiVersion: "authorization.k8s.io/v1", kind: "SelfSubjectRulesReview", spec: { namespace: "default" } },
    token: h.tokens.viewer,
  });
  assert.equal(viewer.status, 201);
  const rules = viewer.body.status.resourceRules as { verbs: string[]; apiGroups: string[]; resources: string[] }[];
  const core = rules.find((r) => r.apiGroups[0] === "")!;
  assert.deepEqual(core.verbs, ["get", "list", "watch"]);
  assert.ok(core.resources.includes("pods") && core.resources.includes("pods/log"));
  assert.ok(!core.resources.includes("secrets") && !core.resources.includes("pods/exec"));
  assert.equal(viewer.body.status.incomplete, false);
});
