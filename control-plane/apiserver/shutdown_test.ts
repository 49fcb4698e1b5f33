import assert from "node:assert/strict";
import { join } from "node:path";
import { loadKubeconfig } from "@skiff/client";

const ROOT = new URL("../../", import.meta.url).pathname;

/** What the child runs: the control plane, stopped by SIGTERM as `skiff up` stops it. */
const CHILD = `
import { startControlPlane } from "@skiff/control-plane";
const [dataDir] = Deno.args;
const started = performance.now();
const plane = await startControlPlane({ dataDir, port: 0, bind: "127.0.0.1", log: () => {} });
console.log(JSON.stringify({ url: plane.url, kubeconfig: plane.kubeconfigPath, ms: performance.now() - started }));
Deno.addSignalListener("SIGTERM", () => {
  plane.stop().then(() => console.log(JSON.stringify({ stopped: true })));
});
`;

interface Child {
  process: Deno.ChildProcess;
  url: string;
  startMs: number;
  lines: AsyncIterator<string>;
}

async function startChild(dataDir: string): Promise<Child> {
  const process = new Deno.Command(Deno.execPath(), {
    args: ["eval", "--config", join(ROOT, "deno.json"), "--ext=ts", CHILD, dataDir],
    cwd: ROOT,
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const lines = process.stdout.pipeThrough(new TextDecoderStream()).pipeThrough(splitLines())[Symbol.asyncIterator]();
  const first = await withTimeout(lines.next(), 60_000, "the control plane did not start");
  const info = JSON.parse(first.value as string);
  return { process, url: info.url, startMs: info.ms, lines };
}

function splitLines(): TransformStream<string, string> {
  let buffer = "";
  return new TransformStream({
    transform(chunk, controller) {
      buffer += chunk;
      const parts = buffer.split("\n");
      buffer = parts.pop()!;
      for (const part of parts) if (part.trim()) controller.enqueue(part);
    },
    flush(controller) {
      if (buffer.trim()) controller.enqueue(buffer);
    },
  });
}

async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => timer = setTimeout(() => reject(new Error(`${what} within ${ms} ms`)), ms)),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

Deno.test({
  name: "the control plane stopped by SIGTERM during writes finishes them, ends watches cleanly and restarts at once",
  sanitizeResources: false,
  fn: async () => {
    const dataDir = await Deno.makeTempDir({ prefix: "skiff-shutdown-test-" });
    try {
      const first = await startChild(dataDir);
      const config = await loadKubeconfig({ kubeconfig: join(dataDir, "admin.kubeconfig") });
      const client = Deno.createHttpClient({ caCerts: [config.caPem!] });
      const headers = { authorization: `Bearer ${config.token}`, "content-type": "application/json" };
      const base = `${first.url}/api/v1/namespaces/default/configmaps`;

      const watch = await fetch(`${base}?watch=1`, { headers, client });
      assert.equal(watch.status, 200);
      const watchEnded = (async () => {
        const reader = watch.body!.getReader();
        for (;;) if ((await reader.read()).done) return true;
      })();

      const acknowledged: string[] = [];
      const failures: string[] = [];
      let sigtermSent = false;
      let next = 0;
      const enough = Promise.withResolvers<void>();
      const worker = async () => {
        for (;;) {
          const name = `cm-${next++}`;
          try {
            const res = await fetch(base, {
              method: "POST",
              headers,
              client,
              body: JSON.stringify({ apiVersion: "v1", kind: "ConfigMap", metadata: { name }, data: { n: name } }),
            });
            await res.body?.cancel();
            if (res.status !== 201) failures.push(`${name}: HTTP ${res.status}`);
            else acknowledged.push(name);
            if (acknowledged.length >= 100) enough.resolve();
          } catch (err) {
            // After SIGTERM the server stops accepting connections: a refused or reset request was never taken.
            if (!sigtermSent) failures.push(`${name}: ${err instanceof Error ? err.message : err}`);
            return;
          }
        }
      };
      const workers = Array.from({ length: 8 }, () => worker());
      await withTimeout(enough.promise, 30_000, "100 writes were not acknowledged");
      sigtermSent = true;
      first.process.kill("SIGTERM");
      const stopped = await withTimeout(first.lines.next(), 30_000, "the control plane did not stop");
      assert.deepEqual(JSON.parse(stopped.value as string), { stopped: true });
      const status = await withTimeout(first.process.status, 30_000, "the process did not exit");
      assert.equal(status.code, 0);
      assert.equal(await withTimeout(watchEnded, 5000, "the watch did not end"), true);
      await Promise.all(workers);
      assert.deepEqual(failures, []);

      const wal = await Deno.stat(join(dataDir, "state.db-wal")).then((s) => s.size, () => 0);
      assert.equal(wal, 0, "the store left a WAL to replay");

      const second = await startChild(dataDir);
      console.log(
        `${acknowledged.length} writes acknowledged before SIGTERM; restart took ${second.startMs.toFixed(0)} ms`,
      );
      const list = await fetch(`${second.url}/api/v1/namespaces/default/configmaps`, { headers, client });
      const names = new Set((await list.json()).items.map((i: { metadata: { name: string } }) => i.metadata.name));
      for (const name of acknowledged) assert.ok(names.has(name), `${name} was acknowledged but is gone`);
      second.process.kill("SIGTERM");
      assert.equal((await withTimeout(second.process.status, 30_000, "the restarted process did not exit")).code, 0);
      client.close();
    } finally {
      await Deno.remove(dataDir, { recursive: true });
    }
  },
});
