import assert from "node:assert/strict";
import { containerId, containerLogPath, podDir } from "./pod_paths.ts";

const UID = "0c5d8e5f-8c1a-4a43-9d39-1f2a0c3b4d5e";
const CONTAINERD_ID = /^[A-Za-z0-9]+(?:[._-][A-Za-z0-9]+)*$/;

Deno.test("containerId() joins pod uid, container name and restart count", () => {
  assert.equal(containerId(UID, "web", 0), `${UID}_web_0`);
  assert.equal(containerId(UID, "web", 12), `${UID}_web_12`);
  assert.notEqual(containerId(UID, "web", 1), containerId(UID, "web", 0));
});

Deno.test("containerId() stays valid for containerd with awkward names and long uids", () => {
  const ids = [
    containerId(UID, "a--b", 0),
    containerId(UID, "x".repeat(63), 3),
    containerId("weird/uid with spaces", "web", 0),
    containerId("u".repeat(100), "web", 0),
  ];
  for (const id of ids) {
    assert.match(id, CONTAINERD_ID);
    assert.ok(id.length <= 76, id);
  }
  assert.notEqual(containerId(UID, "x".repeat(63), 3), containerId(UID, "x".repeat(62), 3));
  assert.equal(containerId(UID, "a--b", 0), containerId(UID, "a--b", 0), "stable");
  assert.throws(() => containerId(UID, "web", -1), /Invalid restart count -1/);
});

Deno.test("podDir() and containerLogPath() lay pods out under <dataDir>/pods/<uid>", () => {
  assert.equal(podDir("/var/lib/skiff", UID), `/var/lib/skiff/pods/${UID}`);
  assert.equal(
    containerLogPath("/var/lib/skiff", UID, { name: "web", restartCount: 2 }),
    `/var/lib/skiff/pods/${UID}/logs/web/2.log`,
  );
  assert.throws(() => podDir("/d", "../etc"), /Invalid pod uid "..\/etc"/);
});
