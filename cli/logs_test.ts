import assert from "node:assert/strict";
import { serveInFront, type TestCluster, withHomelab } from "./_test_harness.ts";

/**
 * A stand-in for the node agent's pods/log endpoint, which the agent issue
 * delivers; until then the CLI is tested against this fake, which answers
 * as Kubernetes does (text/plain, following with `follow=true`). Every
 * other request reaches the real API server.
 */
function fakeLogs(requests: URL[]) {
  return (req: Request): Response | undefined => {
    const url = new URL(req.url);
    const match = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)\/log$/.exec(url.pathname);
    if (!match) return undefined;
    requests.push(url);
    if (!req.headers.get("authorization")?.startsWith("Bearer ")) return new Response("Unauthorized", { status: 401 });
    const q = url.searchParams;
    let lines = [1, 2, 3, 4, 5].map((i) =>
      `${q.get("timestamps") === "true" ? `2026-01-03T00:00:0${i}Z ` : ""}${q.get("container")}${
        q.get("previous") === "true" ? " (previous)" : ""
      } line ${i}\n`
    );
    if (q.has("tailLines")) lines = lines.slice(-Number(q.get("tailLines")));
    if (q.get("follow") !== "true") return new Response(lines.join(""), { headers: { "content-type": "text/plain" } });
    let timer: ReturnType<typeof setInterval> | undefined;
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        for (const line of lines) controller.enqueue(new TextEncoder().encode(line));
        let n = 6;
        timer = setInterval(
          () => controller.enqueue(new TextEncoder().encode(`${q.get("container")} line ${n++}\n`)),
          50,
        );
      },
      cancel() {
        clearInterval(timer);
      },
    });
    return new Response(body, { headers: { "content-type": "text/plain" } });
  };
}

async function withFakeLogs(fn: (cluster: TestCluster, kubeconfig: string, requests: URL[]) => Promise<void>) {
  await withHomelab(async (cluster) => {
    const requests: URL[] = [];
    const front = await serveInFront(cluster, fakeLogs(requests));
    try {
      await fn(cluster, front.kubeconfig, requests);
    } finally {
      await front.stop();
    }
  });
}

Deno.test("logs prints a container's log with --tail, --timestamps and --previous", async () => {
  await withFakeLogs(async (cluster, kubeconfig, requests) => {
    const env = { KUBECONFIG: kubeconfig };
    const result = await cluster.run(["logs", "web-1"], { env });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, "web line 1\nweb line 2\nweb line 3\nweb line 4\nweb line 5\n");
    const tail = await cluster.run(["logs", "pod/web-1", "--tail=2", "--timestamps", "-p"], { env });
    assert.equal(
      tail.stdout,
      "2026-01-03T00:00:04Z web (previous) line 4\n2026-01-03T00:00:05Z web (previous) line 5\n",
    );
    const query = requests[1]!.searchParams;
    assert.equal(query.get("tailLines"), "2");
    assert.equal(query.get("previous"), "true");
    assert.equal(query.get("timestamps"), "true");
  });
});

Deno.test("logs picks the default container of a pod with several and says so; -c chooses another", async () => {
  await withFakeLogs(async (cluster, kubeconfig) => {
    const env = { KUBECONFIG: kubeconfig };
    const defaulted = await cluster.run(["logs", "web-2", "--tail", "1"], { env });
    assert.equal(defaulted.stdout, "web line 5\n");
    assert.equal(defaulted.stderr, 'Defaulted container "web" out of: web, sidecar\n');
    const chosen = await cluster.run(["logs", "web-2", "-c", "sidecar", "--tail", "1"], { env });
    assert.equal(chosen.stdout, "sidecar line 5\n");
    assert.equal(chosen.stderr, "");
    const positional = await cluster.run(["logs", "web-2", "sidecar", "--tail", "1"], { env });
    assert.equal(positional.stdout, "sidecar line 5\n");
    const wrong = await cluster.run(["logs", "web-2", "-c", "db"], { env });
    assert.equal(wrong.code, 2);
    assert.match(wrong.stderr, /container "db" is not in pod "web-2": choose one of "web", "sidecar"/);
    const missing = await cluster.run(["logs", "nope"], { env });
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /pods "nope" not found/);
  });
});

Deno.test("logs of a workload picks one of its pods and says which", async () => {
  await withFakeLogs(async (cluster, kubeconfig) => {
    await cluster.admin.kind("apps/v1", "Deployment").create({
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "web", namespace: "default" },
      spec: {
        replicas: 2,
        selector: { matchLabels: { app: "web" } },
        template: { metadata: { labels: { app: "web" } }, spec: { containers: [{ name: "web", image: "nginx" }] } },
      },
    });
    const result = await cluster.run(["logs", "deploy/web", "--tail=1"], { env: { KUBECONFIG: kubeconfig } });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, "web line 5\n");
    assert.equal(result.stderr, "Found 2 pods, using pod/web-1\n");
    const node = await cluster.run(["logs", "node/pi-1"], { env: { KUBECONFIG: kubeconfig } });
    assert.equal(node.code, 2);
    assert.match(node.stderr, /cannot pick a pod of nodes/);
  });
});

Deno.test("logs -f follows until interrupted", async () => {
  await withFakeLogs(async (cluster, kubeconfig, requests) => {
    const following = cluster.start(["logs", "-f", "web-1", "--tail=1"], { env: { KUBECONFIG: kubeconfig } });
    await following.waitFor("web line 7\n");
    following.abort();
    const result = await following.result;
    assert.equal(result.code, 0, result.stderr);
    const lines = result.stdout.trimEnd().split("\n");
    assert.equal(lines[0], "web line 5");
    assert.ok(lines.length >= 3, `followed new lines: ${result.stdout}`);
    assert.equal(lines[1], "web line 6");
    assert.equal(requests[0]!.searchParams.get("follow"), "true");
  });
});
