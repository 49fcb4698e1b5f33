import assert from "node:assert/strict";
import type { Container, Pod } from "@skiff/api";
import { formatMap, podFieldValue, resourceFieldValue } from "./downward_api.ts";

const pod: Pod = {
  metadata: {
    name: "web-0",
    namespace: "shop",
    uid: "u-1",
    labels: { app: "web", tier: "front" },
    annotations: { "note": 'say "hi"' },
  },
  spec: { containers: [], nodeName: "pi-3", serviceAccountName: "builder" },
};
const addresses = { podIPs: ["10.42.0.7"], hostIPs: ["192.168.1.10"] };

Deno.test("podFieldValue() gives metadata, spec and status fields for env vars", () => {
  const env = (fieldPath: string) => podFieldValue(pod, { fieldPath }, { ...addresses, use: "env" });
  assert.equal(env("metadata.name"), "web-0");
  assert.equal(env("metadata.namespace"), "shop");
  assert.equal(env("metadata.uid"), "u-1");
  assert.equal(env("metadata.labels['tier']"), "front");
  assert.equal(env("metadata.annotations['note']"), 'say "hi"');
  assert.equal(env("metadata.labels['missing']"), "");
  assert.equal(env("spec.nodeName"), "pi-3");
  assert.equal(env("spec.serviceAccountName"), "builder");
  assert.equal(env("status.podIP"), "10.42.0.7");
  assert.equal(env("status.podIPs"), "10.42.0.7");
  assert.equal(env("status.hostIP"), "192.168.1.10");
  assert.throws(() => env("metadata.labels"), /Unsupported fieldRef "metadata\.labels" in an environment variable/);
  assert.throws(() => env("spec.containers"), TypeError);
});

Deno.test("podFieldValue() in volume files gives whole label and annotation maps, sorted and quoted", () => {
  const volume = (fieldPath: string) => podFieldValue(pod, { fieldPath }, { ...addresses, use: "volume" });
  assert.equal(volume("metadata.labels"), 'app="web"\ntier="front"');
  assert.equal(volume("metadata.annotations"), 'note="say \\"hi\\""');
  assert.throws(() => volume("status.podIP"), /in a downwardAPI volume/);
  assert.equal(formatMap({}), "");
});

Deno.test("resourceFieldValue() divides and rounds up, and uses node allocatable for a missing limit", () => {
  const containers: Container[] = [{
    name: "app",
    resources: { limits: { cpu: "500m", memory: "128Mi" }, requests: { cpu: "250m", memory: "64Mi" } },
  }, { name: "bare" }];
  const allocatable = { cpu: "4", memory: "8Gi" };
  const value = (resource: string, divisor?: string, container = "app") =>
    resourceFieldValue(containers, { resource, ...(divisor ? { divisor } : {}) }, { container, allocatable });
  assert.equal(value("limits.cpu"), "1");
  assert.equal(value("limits.cpu", "1m"), "500");
  assert.equal(value("requests.cpu", "1m"), "250");
  assert.equal(value("limits.memory"), String(128 * 1024 * 1024));
  assert.equal(value("limits.memory", "1Mi"), "128");
  assert.equal(value("requests.memory", "1Mi"), "64");
  assert.equal(value("limits.cpu", undefined, "bare"), "4");
  assert.equal(value("limits.memory", "1Gi", "bare"), "8");
  assert.equal(value("requests.cpu", undefined, "bare"), "0");
  assert.equal(
    resourceFieldValue(containers, { containerName: "app", resource: "limits.cpu", divisor: "100m" }, { allocatable }),
    "5",
  );
  assert.throws(() => value("limits.gpu"), /Unsupported resourceFieldRef resource "limits\.gpu"/);
  assert.throws(() => value("limits.cpu", "0"), /not positive/);
  assert.throws(() => value("limits.cpu", undefined, "nope"), /Unknown container "nope"/);
});
