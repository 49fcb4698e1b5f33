import assert from "node:assert/strict";
import { ManualClock, type Pod, type PodStatus } from "@skiff/api";
import { ApiClient } from "@skiff/client";
import { StatusManager } from "./status_manager.ts";

const pod: Pod = {
  metadata: { name: "web", namespace: "default", uid: "u1" },
  status: { phase: "Pending", message: "old" },
};

function recordingClient(respond: (body: unknown) => Response | Promise<Response> = () => Response.json({})) {
  const bodies: unknown[] = [];
  let release: () => void = () => {};
  let gate: Promise<void> | undefined;
  const client = new ApiClient({
    server: "https://in-process",
    transport: async (req) => {
      const body = await req.json();
      bodies.push({ method: req.method, path: new URL(req.url).pathname, body });
      if (gate) await gate;
      return respond(body);
    },
  });
  return {
    client,
    bodies,
    hold() {
      gate = new Promise((resolve) => release = resolve);
    },
    release() {
      gate = undefined;
      release();
    },
  };
}

const running: PodStatus = { phase: "Running", podIP: "10.42.0.7" };

Deno.test("StatusManager patches pods/status with what changed, null for removed fields", async () => {
  const api = recordingClient();
  const manager = new StatusManager({ client: api.client });
  manager.set(pod, running);
  await manager.flush();
  assert.deepEqual(api.bodies, [{
    method: "PATCH",
    path: "/api/v1/namespaces/default/pods/web/status",
    body: { status: { phase: "Running", podIP: "10.42.0.7", message: null } },
  }]);
});

Deno.test("StatusManager skips statuses equal to what the API has and coalesces those set during a write", async () => {
  const api = recordingClient();
  const manager = new StatusManager({ client: api.client });
  manager.set(pod, { phase: "Pending", message: "old" });
  await manager.flush();
  assert.equal(api.bodies.length, 0, "unchanged");
  api.hold();
  manager.set(pod, running);
  await new Promise((resolve) => setTimeout(resolve, 0));
  manager.set(pod, { ...running, phase: "Failed" });
  manager.set(pod, { ...running, phase: "Succeeded" });
  api.release();
  await manager.flush();
  assert.deepEqual(
    api.bodies.map((b) => ((b as { body: { status: PodStatus } }).body.status.phase)),
    ["Running", "Succeeded"],
  );
  manager.set(pod, { ...running, phase: "Succeeded" });
  await manager.flush();
  assert.equal(api.bodies.length, 2, "the same status again is not written");
});

Deno.test("StatusManager retries a failed write on its clock and forgets a pod that is gone", async () => {
  let failures = 1;
  const api = recordingClient(() => {
    if (failures-- > 0) {
      return Response.json({ kind: "Status", code: 503, reason: "ServiceUnavailable", message: "busy" }, {
        status: 503,
      });
    }
    return Response.json({});
  });
  const clock = new ManualClock(0);
  const lines: string[] = [];
  const manager = new StatusManager({ client: api.client, clock, log: (l) => lines.push(l) });
  manager.set(pod, running);
  await manager.flush();
  assert.equal(api.bodies.length, 1);
  assert.match(lines[0]!, /^Cannot write the status of pod default\/web: .*busy; retrying in 1s$/);
  await clock.advance(1000);
  await manager.flush();
  assert.equal(api.bodies.length, 2);

  const gone = recordingClient(() =>
    Response.json({ kind: "Status", code: 404, reason: "NotFound", message: 'pods "web" not found' }, { status: 404 })
  );
  const other = new StatusManager({ client: gone.client });
  other.set(pod, running);
  await other.flush();
  assert.equal(other.get("u1"), undefined);
});
