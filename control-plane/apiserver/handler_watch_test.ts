import assert from "node:assert/strict";
import { configMap, startHarness, watchEvents } from "./_test_harness.ts";

const CM = "/api/v1/namespaces/default/configmaps";
const MERGE = "application/merge-patch+json";

Deno.test("watch from a resourceVersion streams every later change in order", async () => {
  await using h = await startHarness();
  const before = await h.call("POST", CM, { body: configMap("before") });
  const rv = before.body.metadata.resourceVersion;
  await h.call("POST", CM, { body: configMap("a") });
  const res = await h.fetch("GET", `${CM}?watch=1&resourceVersion=${rv}`);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("content-type"), "application/json");
  const events = watchEvents(res);
  await h.call("PATCH", `${CM}/a`, { body: { data: { key: "v2" } }, contentType: MERGE });
  await h.call("DELETE", `${CM}/a`);
  const added = await events.next();
  assert.equal(added.type, "ADDED");
  assert.equal(added.object.metadata.name, "a");
  assert.equal(typeof added.object.metadata.resourceVersion, "string");
  const modified = await events.next();
  assert.equal(modified.type, "MODIFIED");
  assert.equal(modified.object.data.key, "v2");
  const deleted = await events.next();
  assert.equal(deleted.type, "DELETED");
  assert.equal(deleted.object.metadata.name, "a");
  assert.ok(Number(deleted.object.metadata.resourceVersion) > Number(modified.object.metadata.resourceVersion));
  await events.cancel();
});

Deno.test("watch from 0 or without a resourceVersion starts with synthetic ADDED events", async () => {
  await using h = await startHarness();
  await h.call("POST", CM, { body: configMap("x") });
  await h.call("POST", CM, { body: configMap("y") });
  for (const query of ["watch=true&resourceVersion=0", "watch=true"]) {
    const events = watchEvents(await h.fetch("GET", `${CM}?${query}`));
    const existing = (await h.call("GET", CM)).body.items.map((i: { metadata: { name: string } }) => i.metadata.name);
    const initial = [];
    for (let i = 0; i < existing.length; i++) {
      const event = await events.next();
      assert.equal(event.type, "ADDED");
      initial.push(event.object.metadata.name);
    }
    assert.deepEqual(initial.sort(), existing.sort());
    assert.ok(initial.includes("x") && initial.includes("y"));
    await h.call("POST", CM, { body: configMap(`live-${query.length}`) });
    const live = await events.next();
    assert.equal(live.type, "ADDED");
    assert.equal(live.object.metadata.name, `live-${query.length}`);
    await events.cancel();
  }
});

Deno.test("watch sends bookmarks only when allowed", async () => {
  await using h = await startHarness({ bookmarkIntervalMs: 20 });
  const rv = String(h.store.currentRevision());
  const events = watchEvents(await h.fetch("GET", `${CM}?watch=1&resourceVersion=${rv}&allowWatchBookmarks=true`));
  const bookmark = await events.next();
  assert.equal(bookmark.type, "BOOKMARK");
  assert.equal(bookmark.object.kind, "ConfigMap");
  assert.equal(bookmark.object.apiVersion, "v1");
  assert.equal(bookmark.object.metadata.resourceVersion, rv);
  await events.cancel();
  const plain = watchEvents(await h.fetch("GET", `${CM}?watch=1&resourceVersion=${rv}`));
  await h.call("POST", CM, { body: configMap("z") });
  assert.equal((await plain.next()).type, "ADDED");
  await plain.cancel();
});

Deno.test("watch from a compacted resourceVersion sends one 410 Expired ERROR event and ends", async () => {
  await using h = await startHarness();
  const first = await h.call("POST", CM, { body: configMap("a") });
  await h.call("POST", CM, { body: configMap("b") });
  await h.store.compact(h.store.currentRevision());
  const res = await h.fetch("GET", `${CM}?watch=1&resourceVersion=${first.body.metadata.resourceVersion}`);
  assert.equal(res.status, 200);
  const events = watchEvents(res);
  const error = await events.next();
  assert.equal(error.type, "ERROR");
  assert.equal(error.object.kind, "Status");
  assert.equal(error.object.code, 410);
  assert.equal(error.object.reason, "Expired");
  assert.match(error.object.message, /too old resource version/);
  assert.ok(await events.done());
});

Deno.test("watch with a selector reports objects entering and leaving it as ADDED and DELETED", async () => {
  await using h = await startHarness();
  await h.call("POST", CM, { body: configMap("c", "default", { metadata: { name: "c", labels: { app: "no" } } }) });
  const rv = String(h.store.currentRevision());
  const events = watchEvents(await h.fetch("GET", `${CM}?watch=1&resourceVersion=${rv}&labelSelector=app%3Dyes`));
  await h.call("PATCH", `${CM}/c`, { body: { metadata: { labels: { app: "yes" } } }, contentType: MERGE });
  await h.call("PATCH", `${CM}/c`, { body: { data: { key: "still" } }, contentType: MERGE });
  await h.call("PATCH", `${CM}/c`, { body: { metadata: { labels: { app: "no" } } }, contentType: MERGE });
  await h.call("PATCH", `${CM}/c`, { body: { data: { key: "unseen" } }, contentType: MERGE });
  await h.call("POST", CM, { body: configMap("d", "default", { metadata: { name: "d", labels: { app: "yes" } } }) });
  const seen = [];
  for (let i = 0; i < 4; i++) {
    const event = await events.next();
    seen.push(`${event.type} ${event.object.metadata.name} ${event.object.metadata.labels.app}`);
  }
  assert.deepEqual(seen, ["ADDED c yes", "MODIFIED c yes", "DELETED c no", "ADDED d yes"]);
  await events.cancel();
});

Deno.test("watch with a field selector follows one object by name", async () => {
  await using h = await startHarness();
  const rv = String(h.store.currentRevision());
  const events = watchEvents(
    await h.fetch("GET", `${CM}?watch=1&resourceVersion=${rv}&fieldSelector=metadata.name%3Dwanted`),
  );
  await h.call("POST", CM, { body: configMap("other") });
  await h.call("POST", CM, { body: configMap("wanted") });
  const event = await events.next();
  assert.equal(event.object.metadata.name, "wanted");
  await events.cancel();
});

Deno.test("watch ends after timeoutSeconds", async () => {
  await using h = await startHarness();
  const started = Date.now();
  const events = watchEvents(await h.fetch("GET", `${CM}?watch=1&timeoutSeconds=1`));
  assert.ok(await events.done(10_000));
  assert.ok(Date.now() - started >= 900);
});

Deno.test("watch answers Table rows when kubectl get -w asks for them", async () => {
  await using h = await startHarness();
  const rv = String(h.store.currentRevision());
  const accept = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json";
  const events = watchEvents(await h.fetch("GET", `${CM}?watch=true&resourceVersion=${rv}`, { accept }));
  await h.call("POST", CM, { body: configMap("t1") });
  await h.call("POST", CM, { body: configMap("t2") });
  const first = await events.next();
  assert.equal(first.type, "ADDED");
  assert.equal(first.object.kind, "Table");
  assert.ok(first.object.columnDefinitions.length > 0);
  assert.equal(first.object.rows[0].cells[0], "t1");
  const second = await events.next();
  assert.deepEqual(second.object.columnDefinitions, []);
  assert.equal(second.object.rows[0].cells[0], "t2");
  await events.cancel();
});

Deno.test("watch refuses bad parameters with 400 and a future resourceVersion with 504", async () => {
  await using h = await startHarness();
  const bad = await h.call("GET", `${CM}?watch=1&resourceVersion=yesterday`);
  assert.equal(bad.status, 400);
  const timeout = await h.call("GET", `${CM}?watch=1&timeoutSeconds=soon`);
  assert.equal(timeout.status, 400);
  const selector = await h.call("GET", `${CM}?watch=1&labelSelector=%21%21`);
  assert.equal(selector.status, 400);
  const future = await h.call("GET", `${CM}?watch=1&resourceVersion=${h.store.currentRevision() + 10}`);
  assert.equal(future.status, 504);
  assert.equal(future.body.details.causes[0].reason, "ResourceVersionTooLarge");
});

Deno.test("closeWatches ends open watches and refuses new ones with 503", async () => {
  await using h = await startHarness();
  const events = watchEvents(await h.fetch("GET", `${CM}?watch=1`));
  h.api.handler.closeWatches();
  assert.ok(await events.done());
  const refused = await h.call("GET", `${CM}?watch=1`);
  assert.equal(refused.status, 503);
  assert.equal(refused.body.reason, "ServiceUnavailable");
});
