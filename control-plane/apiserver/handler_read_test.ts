import assert from "node:assert/strict";
import protobuf from "protobufjs";
import { configMap, pod, startHarness } from "./_test_harness.ts";

const CM = "/api/v1/namespaces/default/configmaps";
const PODS = "/api/v1/namespaces/default/pods";

Deno.test("get returns the object with a string resourceVersion, uid and creationTimestamp", async () => {
  await using h = await startHarness();
  const created = await h.call("POST", CM, { body: configMap("one") });
  assert.equal(created.status, 201);
  const got = await h.call("GET", `${CM}/one`);
  assert.equal(got.status, 200);
  assert.equal(got.body.kind, "ConfigMap");
  assert.equal(got.body.apiVersion, "v1");
  assert.equal(typeof got.body.metadata.resourceVersion, "string");
  assert.equal(got.body.metadata.resourceVersion, created.body.metadata.resourceVersion);
  assert.match(got.body.metadata.uid, /^[0-9a-f-]{36}$/);
  assert.match(got.body.metadata.creationTimestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
});

Deno.test("get of a missing object is a 404 NotFound Status naming it", async () => {
  await using h = await startHarness();
  const res = await h.call("GET", `${CM}/nope`);
  assert.equal(res.status, 404);
  assert.equal(res.body.kind, "Status");
  assert.equal(res.body.reason, "NotFound");
  assert.equal(res.body.code, 404);
  assert.equal(res.body.message, 'configmaps "nope" not found');
  assert.deepEqual(res.body.details, { name: "nope", group: "", kind: "configmaps" });
});

Deno.test("get answers YAML when asked", async () => {
  await using h = await startHarness();
  await h.call("POST", CM, { body: configMap("one") });
  const res = await h.call("GET", `${CM}/one`, { accept: "application/yaml" });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("content-type"), "application/yaml");
  assert.match(res.body, /^apiVersion: v1\n/m);
});

Deno.test("get with an Accept the server cannot produce is 406", async () => {
  await using h = await startHarness();
  const res = await h.call("GET", `${CM}`, { accept: "application/vnd.kubernetes.protobuf" });
  assert.equal(res.status, 406);
  assert.equal(res.body.reason, "NotAcceptable");
});

Deno.test("list filters by labelSelector with every operator", async () => {
  await using h = await startHarness();
  const labels: Record<string, Record<string, string>> = {
    a: { app: "web", tier: "front" },
    b: { app: "web", tier: "back" },
    c: { app: "db" },
    d: {},
  };
  for (const [name, l] of Object.entries(labels)) {
    const res = await h.call("POST", CM, { body: configMap(name, "default", { metadata: { name, labels: l } }) });
    assert.equal(res.status, 201, JSON.stringify(res.body));
  }
  const names = async (selector: string) => {
    const res = await h.call("GET", `${CM}?labelSelector=${encodeURIComponent(selector)}`);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.kind, "ConfigMapList");
    return res.body.items.map((i: { metadata: { name: string } }) => i.metadata.name);
  };
  assert.deepEqual(await names("app=web"), ["a", "b"]);
  assert.deepEqual(await names("app==web"), ["a", "b"]);
  assert.deepEqual(await names("app!=web"), ["c", "d"]);
  assert.deepEqual(await names("tier in (front,side)"), ["a"]);
  assert.deepEqual(await names("tier notin (front)"), ["b", "c", "d"]);
  assert.deepEqual(await names("tier"), ["a", "b"]);
  assert.deepEqual(await names("!tier"), ["c", "d"]);
  assert.deepEqual(await names("app=web,tier!=back"), ["a"]);
  const bad = await h.call("GET", `${CM}?labelSelector=${encodeURIComponent("app in web")}`);
  assert.equal(bad.status, 400);
  assert.equal(bad.body.reason, "BadRequest");
  assert.match(bad.body.message, /labelSelector/);
});

Deno.test("list filters by fieldSelector on name, namespace, nodeName and phase", async () => {
  await using h = await startHarness();
  await h.call("POST", "/api/v1/namespaces", {
    body: { apiVersion: "v1", kind: "Namespace", metadata: { name: "other" } },
  });
  for (const [name, ns, nodeName] of [["p1", "default", "node-a"], ["p2", "default", ""], ["p3", "other", "node-a"]]) {
    const res = await h.call("POST", `/api/v1/namespaces/${ns}/pods`, {
      body: pod(name!, { namespace: ns!, ...(nodeName ? { nodeName } : {}) }),
    });
    assert.equal(res.status, 201, JSON.stringify(res.body));
  }
  await h.call("PATCH", `${PODS}/p1/status`, {
    body: { status: { phase: "Running" } },
    contentType: "application/merge-patch+json",
  });
  const names = async (path: string, selector: string) => {
    const res = await h.call("GET", `${path}?fieldSelector=${encodeURIComponent(selector)}`);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return res.body.items.map((i: { metadata: { name: string } }) => i.metadata.name).sort();
  };
  assert.deepEqual(await names("/api/v1/pods", "metadata.name=p1"), ["p1"]);
  assert.deepEqual(await names("/api/v1/pods", "metadata.namespace=other"), ["p3"]);
  assert.deepEqual(await names("/api/v1/pods", "metadata.namespace!=other"), ["p1", "p2"]);
  assert.deepEqual(await names("/api/v1/pods", "spec.nodeName=node-a"), ["p1", "p3"]);
  assert.deepEqual(await names("/api/v1/pods", "spec.nodeName="), ["p2"]);
  assert.deepEqual(await names("/api/v1/pods", "status.phase=Running"), ["p1"]);
  assert.deepEqual(await names("/api/v1/pods", "status.phase!=Running,spec.nodeName=node-a"), ["p3"]);
  const bad = await h.call("GET", `/api/v1/pods?fieldSelector=spec.bogus%3Dx`);
  assert.equal(bad.status, 400);
  assert.match(bad.body.message, /field label not supported: spec\.bogus/);
});

Deno.test("list across all namespaces returns every namespace's objects", async () => {
  await using h = await startHarness();
  await h.call("POST", "/api/v1/namespaces", {
    body: { apiVersion: "v1", kind: "Namespace", metadata: { name: "ns2" } },
  });
  await h.call("POST", CM, { body: configMap("x") });
  await h.call("POST", "/api/v1/namespaces/ns2/configmaps", { body: configMap("y", "ns2") });
  const res = await h.call("GET", "/api/v1/configmaps");
  assert.equal(res.status, 200);
  const keys = res.body.items.map((i: { metadata: { namespace: string; name: string } }) =>
    `${i.metadata.namespace}/${i.metadata.name}`
  );
  assert.deepEqual(keys, ["default/x", "ns2/y"]);
  const one = await h.call("GET", "/api/v1/namespaces/ns2/configmaps");
  assert.deepEqual(one.body.items.map((i: { metadata: { name: string } }) => i.metadata.name), ["y"]);
});

Deno.test("list pages with limit and continue stay consistent while writes happen in between", async () => {
  await using h = await startHarness();
  for (let i = 0; i < 7; i++) await h.call("POST", CM, { body: configMap(`cm-${i}`) });
  const first = await h.call("GET", `${CM}?limit=3`);
  assert.equal(first.status, 200);
  assert.equal(first.body.items.length, 3);
  assert.equal(first.body.metadata.remainingItemCount, 4);
  const rv = first.body.metadata.resourceVersion;
  // Writes between pages: a new object, a deletion and an update.
  await h.call("POST", CM, { body: configMap("cm-9") });
  await h.call("DELETE", `${CM}/cm-4`);
  await h.call("PATCH", `${CM}/cm-5`, {
    body: { data: { key: "changed" } },
    contentType: "application/merge-patch+json",
  });
  const seen = first.body.items.map((i: { metadata: { name: string } }) => i.metadata.name);
  let cont = first.body.metadata.continue;
  let pages = 1;
  while (cont) {
    const page = await h.call("GET", `${CM}?limit=3&continue=${encodeURIComponent(cont)}`);
    assert.equal(page.status, 200, JSON.stringify(page.body));
    assert.equal(page.body.metadata.resourceVersion, rv);
    for (const item of page.body.items) {
      seen.push(item.metadata.name);
      if (item.metadata.name === "cm-5") assert.equal(item.data.key, "value");
    }
    cont = page.body.metadata.continue;
    pages++;
  }
  assert.equal(pages, 3);
  assert.deepEqual(seen, ["cm-0", "cm-1", "cm-2", "cm-3", "cm-4", "cm-5", "cm-6"]);
});

Deno.test("list with limit and a selector fills pages with matching objects", async () => {
  await using h = await startHarness();
  for (let i = 0; i < 10; i++) {
    const labels = { even: String(i % 2 === 0) };
    await h.call("POST", CM, { body: configMap(`cm-${i}`, "default", { metadata: { name: `cm-${i}`, labels } }) });
  }
  const seen: string[] = [];
  let cont = "";
  do {
    const page = await h.call("GET", `${CM}?limit=2&labelSelector=even%3Dtrue${cont ? `&continue=${cont}` : ""}`);
    assert.equal(page.status, 200);
    assert.ok(page.body.items.length <= 2);
    seen.push(...page.body.items.map((i: { metadata: { name: string } }) => i.metadata.name));
    cont = encodeURIComponent(page.body.metadata.continue ?? "");
  } while (cont);
  assert.deepEqual(seen, ["cm-0", "cm-2", "cm-4", "cm-6", "cm-8"]);
});

Deno.test("list refuses a garbage continue token and a negative limit with 400", async () => {
  await using h = await startHarness();
  const bad = await h.call("GET", `${CM}?limit=2&continue=not-a-token`);
  assert.equal(bad.status, 400);
  assert.equal(bad.body.reason, "BadRequest");
  const neg = await h.call("GET", `${CM}?limit=-1`);
  assert.equal(neg.status, 400);
  const word = await h.call("GET", `${CM}?limit=ten`);
  assert.equal(word.status, 400);
  assert.match(word.body.message, /limit/);
});

Deno.test("list with a continue token from a compacted revision is 410 Expired", async () => {
  await using h = await startHarness();
  for (let i = 0; i < 4; i++) await h.call("POST", CM, { body: configMap(`cm-${i}`) });
  const first = await h.call("GET", `${CM}?limit=2`);
  await h.call("POST", CM, { body: configMap("later") });
  await h.store.compact(h.store.currentRevision());
  const next = await h.call("GET", `${CM}?limit=2&continue=${encodeURIComponent(first.body.metadata.continue)}`);
  assert.equal(next.status, 410);
  assert.equal(next.body.reason, "Expired");
});

Deno.test("list honours resourceVersion and resourceVersionMatch like Kubernetes", async () => {
  await using h = await startHarness();
  const a = await h.call("POST", CM, { body: configMap("a") });
  const rvA = a.body.metadata.resourceVersion;
  await h.call("POST", CM, { body: configMap("b") });
  const names = (r: { body: { items: { metadata: { name: string } }[] } }) => r.body.items.map((i) => i.metadata.name);

  const exact = await h.call("GET", `${CM}?resourceVersion=${rvA}&resourceVersionMatch=Exact`);
  assert.equal(exact.status, 200);
  assert.deepEqual(names(exact), ["a"]);
  assert.equal(exact.body.metadata.resourceVersion, rvA);

  const notOlder = await h.call("GET", `${CM}?resourceVersion=${rvA}&resourceVersionMatch=NotOlderThan`);
  assert.deepEqual(names(notOlder), ["a", "b"]);
  const legacy = await h.call("GET", `${CM}?resourceVersion=${rvA}`);
  assert.deepEqual(names(legacy), ["a", "b"]);
  const any = await h.call("GET", `${CM}?resourceVersion=0`);
  assert.deepEqual(names(any), ["a", "b"]);

  const future = String(h.store.currentRevision() + 100);
  const tooLarge = await h.call("GET", `${CM}?resourceVersion=${future}`);
  assert.equal(tooLarge.status, 504);
  assert.equal(tooLarge.body.reason, "Timeout");
  assert.equal(tooLarge.body.details.causes[0].reason, "ResourceVersionTooLarge");

  const matchWithout = await h.call("GET", `${CM}?resourceVersionMatch=Exact`);
  assert.equal(matchWithout.status, 400);
  const exactZero = await h.call("GET", `${CM}?resourceVersion=0&resourceVersionMatch=Exact`);
  assert.equal(exactZero.status, 400);
  const unknown = await h.call("GET", `${CM}?resourceVersion=1&resourceVersionMatch=Sometimes`);
  assert.equal(unknown.status, 400);
  const garbage = await h.call("GET", `${CM}?resourceVersion=abc`);
  assert.equal(garbage.status, 400);

  await h.store.compact(h.store.currentRevision());
  const gone = await h.call("GET", `${CM}?resourceVersion=${rvA}&resourceVersionMatch=Exact`);
  assert.equal(gone.status, 410);
  assert.equal(gone.body.reason, "Expired");
});

Deno.test("list answers a Table with kubectl's columns when asked", async () => {
  await using h = await startHarness();
  await h.call("POST", PODS, { body: pod("web-1", { nodeName: "node-a" }) });
  const accept = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io," +
    "application/json";
  const res = await h.call("GET", PODS, { accept });
  assert.equal(res.status, 200);
  assert.equal(res.body.kind, "Table");
  assert.equal(res.body.apiVersion, "meta.k8s.io/v1");
  const columns = res.body.columnDefinitions.map((c: { name: string }) => c.name);
  assert.deepEqual(columns.slice(0, 6), ["Name", "Ready", "Status", "Restarts", "Age", "IP"]);
  assert.equal(res.body.rows.length, 1);
  assert.equal(res.body.rows[0].cells[0], "web-1");
  assert.equal(res.body.rows[0].cells[2], "Pending");
  assert.equal(res.body.rows[0].object.kind, "Pod");
  assert.ok(res.body.metadata.resourceVersion);
  const wideNode = res.body.rows[0].cells[columns.indexOf("Node")];
  assert.equal(wideNode, "node-a");
  const meta = await h.call("GET", `${PODS}?includeObject=Metadata`, { accept });
  assert.equal(meta.body.rows[0].object.kind, "PartialObjectMetadata");
  const single = await h.call("GET", `${PODS}/web-1`, { accept });
  assert.equal(single.body.kind, "Table");
  assert.equal(single.body.rows.length, 1);
});

Deno.test("discovery serves /version, /api, /apis and resource lists with verbs, kinds and short names", async () => {
  await using h = await startHarness();
  const version = await h.call("GET", "/version", { token: null });
  assert.equal(version.status, 200);
  assert.equal(version.body.major, "1");
  assert.match(version.body.gitVersion, /^v1\.\d+\.\d+/);
  const api = await h.call("GET", "/api");
  assert.equal(api.body.kind, "APIVersions");
  assert.deepEqual(api.body.versions, ["v1"]);
  const apis = await h.call("GET", "/apis");
  assert.equal(apis.body.kind, "APIGroupList");
  const groups = apis.body.groups.map((g: { name: string }) => g.name);
  for (const g of ["apps", "coordination.k8s.io", "discovery.k8s.io", "storage.k8s.io"]) assert.ok(groups.includes(g));
  const apps = await h.call("GET", "/apis/apps");
  assert.equal(apps.body.kind, "APIGroup");
  assert.equal(apps.body.preferredVersion.groupVersion, "apps/v1");

  const shortNames: Record<string, string> = {};
  const resources: Record<string, { namespaced: boolean; kind: string; verbs: string[] }> = {};
  for (const path of ["/api/v1", "/apis/apps/v1", "/apis/storage.k8s.io/v1"]) {
    const list = await h.call("GET", path);
    assert.equal(list.status, 200);
    assert.equal(list.body.kind, "APIResourceList");
    for (const r of list.body.resources) {
      resources[`${list.body.groupVersion}/${r.name}`] = r;
      for (const s of r.shortNames ?? []) shortNames[s] = r.name;
    }
  }
  assert.deepEqual(shortNames, {
    po: "pods",
    svc: "services",
    deploy: "deployments",
    rs: "replicasets",
    ds: "daemonsets",
    sts: "statefulsets",
    cm: "configmaps",
    ns: "namespaces",
    no: "nodes",
    pvc: "persistentvolumeclaims",
    pv: "persistentvolumes",
    ep: "endpoints",
    ev: "events",
    sc: "storageclasses",
  });
  const pods = resources["v1/pods"]!;
  assert.equal(pods.namespaced, true);
  assert.equal(pods.kind, "Pod");
  assert.deepEqual([...pods.verbs].sort(), [
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
  ]);
  assert.equal(resources["v1/namespaces"]!.namespaced, false);
  assert.deepEqual(resources["v1/pods/binding"]!.verbs, ["create"]);
  assert.equal(resources["apps/v1/deployments/scale"]!.kind, "Scale");
  assert.deepEqual([...resources["apps/v1/deployments/status"]!.verbs].sort(), ["get", "patch", "update"]);
  const missing = await h.call("GET", "/apis/nope.example.com/v1");
  assert.equal(missing.status, 404);
  assert.equal(missing.body.kind, "Status");
});

Deno.test("discovery serves the OpenAPI v3 index and documents that kubectl apply trusts", async () => {
  await using h = await startHarness();
  const index = await h.call("GET", "/openapi/v3");
  assert.equal(index.status, 200);
  const entry = index.body.paths["apis/apps/v1"];
  assert.match(entry.serverRelativeURL, /^\/openapi\/v3\/apis\/apps\/v1\?hash=[0-9A-F]+$/);
  const doc = await h.call("GET", entry.serverRelativeURL);
  assert.equal(doc.status, 200);
  assert.equal(doc.body.openapi, "3.0.0");
  const patch = doc.body.paths["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"].patch;
  assert.equal(patch["x-kubernetes-action"], "patch");
  assert.deepEqual(patch["x-kubernetes-group-version-kind"], { group: "apps", version: "v1", kind: "Deployment" });
  assert.ok(patch.parameters.some((p: { name: string }) => p.name === "fieldValidation"));
  const core = await h.call("GET", "/openapi/v3/api/v1");
  assert.ok(core.body.paths["/api/v1/namespaces/{namespace}/pods"].post);
  const v2 = await h.call("GET", "/openapi/v2");
  assert.equal(v2.status, 200);
  assert.equal(v2.body.swagger, "2.0");
  assert.deepEqual(v2.body.paths, {});
  const none = await h.call("GET", "/openapi/v3/apis/nope/v1");
  assert.equal(none.status, 404);
});

Deno.test("health endpoints answer without a token", async () => {
  await using h = await startHarness();
  for (const path of ["/healthz", "/livez", "/readyz"]) {
    const res = await h.call("GET", path, { token: null });
    assert.equal(res.status, 200);
    assert.equal(res.body, "ok");
  }
});

Deno.test("unknown paths are 404 Status objects, and unknown resources too", async () => {
  await using h = await startHarness();
  for (const path of ["/", "/nope", "/api/v2/pods", "/api/v1/widgets", "/apis/apps/v1/pods", "/api/v1/pods/x/y/z/w"]) {
    const res = await h.call("GET", path);
    assert.equal(res.status, 404, path);
    assert.equal(res.body.kind, "Status", path);
    assert.equal(res.body.reason, "NotFound", path);
  }
  const sub = await h.call("GET", `${CM}/x/status`);
  assert.equal(sub.status, 404);
});

Deno.test("a namespaced object asked for without a namespace is 404, a cluster object with one too", async () => {
  await using h = await startHarness();
  const res = await h.call("GET", "/api/v1/pods/web");
  assert.equal(res.status, 404);
  assert.equal(res.body.kind, "Status");
  const node = await h.call("GET", "/api/v1/namespaces/default/nodes/n1");
  assert.equal(node.status, 404);
});

Deno.test("/openapi/v2 as protobuf is an empty Swagger 2.0 Document, as kubectl decodes it for unknown kinds", async () => {
  await using h = await startHarness();
  const res = await h.fetch("GET", "/openapi/v2", {
    accept: "application/com.github.proto-openapi.spec.v2@v1.0+protobuf",
  });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("content-type"), "application/com.github.proto-openapi.spec.v2.v1.0+protobuf");
  const root = protobuf.parse(`syntax = "proto3"; package openapi.v2;
    message Info { string title = 1; string version = 2; }
    message Document { string swagger = 1; Info info = 2; }`).root;
  const doc = root.lookupType("openapi.v2.Document").toObject(
    root.lookupType("openapi.v2.Document").decode(new Uint8Array(await res.arrayBuffer())),
  );
  assert.equal(doc.swagger, "2.0");
  assert.equal(doc.info.title, "Skiff");
  assert.match(doc.info.version, /^v1\.32\.0-skiff/);
});
