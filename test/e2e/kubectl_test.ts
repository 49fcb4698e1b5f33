/**
 * The real kubectl against a started control plane, with the admin
 * kubeconfig the control plane writes: what a homelab user does on day one.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { startControlPlane } from "@skiff/control-plane";
import { createTempDir, findKubectl, findProgram, requireTools } from "../support/mod.ts";

const MANIFEST = (replicas: number, value: string) => `
apiVersion: v1
kind: Namespace
metadata:
  name: demo
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  namespace: demo
  labels:
    app: web
data:
  greeting: ${value}
---
apiVersion: v1
kind: Secret
metadata:
  name: credentials
  namespace: demo
type: Opaque
data:
  password: aHVudGVyMg==
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: demo
  labels:
    app: web
spec:
  replicas: ${replicas}
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
      - name: web
        image: busybox:latest
        command: ["httpd", "-f", "-p", "80"]
        ports:
        - containerPort: 80
---
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: demo
  labels:
    app: web
spec:
  selector:
    app: web
  ports:
  - port: 80
    targetPort: 80
`;

// kubectl on PATH is used as it is; without one, findKubectl fetches Debian's kubernetes-client, which needs these.
const needs = findProgram("kubectl") ? { ignore: false } : requireTools(["apt-get", "dpkg-deb"]);

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

Deno.test({
  name: "kubectl applies, reads, watches, patches, labels, scales, edits and deletes through the API server",
  ...needs,
  fn: async (t) => {
    const kubectl = await findKubectl();
    await using tmp = await createTempDir({ prefix: "skiff-kubectl-" });
    const plane = await startControlPlane({
      dataDir: tmp.join("data"),
      port: 0,
      bind: "127.0.0.1",
      log: () => {},
    });
    const env = { KUBECONFIG: plane.kubeconfigPath, HOME: tmp.path, NO_PROXY: "127.0.0.1", no_proxy: "127.0.0.1" };
    const run = async (args: string[], options: { stdin?: string; env?: Record<string, string> } = {}) => {
      const child = new Deno.Command(kubectl, {
        args: ["--request-timeout=30s", ...args],
        env: { ...env, ...options.env },
        stdin: options.stdin === undefined ? "null" : "piped",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      if (options.stdin !== undefined) {
        const writer = child.stdin.getWriter();
        await writer.write(new TextEncoder().encode(options.stdin));
        await writer.close();
      }
      const out = await child.output();
      const decode = (b: Uint8Array) => new TextDecoder().decode(b);
      return { code: out.code, stdout: decode(out.stdout), stderr: decode(out.stderr) } satisfies Result;
    };
    const ok = async (args: string[], options: { stdin?: string; env?: Record<string, string> } = {}) => {
      const result = await run(args, options);
      assert.equal(result.code, 0, `kubectl ${args.join(" ")} failed:\n${result.stderr}${result.stdout}`);
      return result.stdout;
    };
    const jsonOf = async (args: string[]) => JSON.parse(await ok([...args, "-o", "json"]));
    const manifest = tmp.join("app.yaml");

    try {
      let uid = "";
      await t.step("apply -f of a multi-document file creates every object", async () => {
        await Deno.writeTextFile(manifest, MANIFEST(2, "hello"));
        const out = await ok(["apply", "-f", manifest]);
        for (
          const line of [
            "namespace/demo created",
            "configmap/settings created",
            "secret/credentials created",
            "deployment.apps/web created",
            "service/web created",
          ]
        ) assert.match(out, new RegExp(`^${line}$`, "m"));
        uid = (await jsonOf(["get", "deployment", "web", "-n", "demo"])).metadata.uid;
      });

      await t.step("apply after an edit configures the objects in place", async () => {
        await Deno.writeTextFile(manifest, MANIFEST(3, "bonjour"));
        const out = await ok(["apply", "-f", manifest]);
        assert.match(out, /^namespace\/demo unchanged$/m);
        assert.match(out, /^configmap\/settings configured$/m);
        assert.match(out, /^deployment\.apps\/web configured$/m);
        assert.match(out, /^service\/web unchanged$/m);
        const deploy = await jsonOf(["get", "deployment", "web", "-n", "demo"]);
        assert.equal(deploy.metadata.uid, uid);
        assert.equal(deploy.spec.replicas, 3);
        assert.equal(deploy.metadata.generation, 2);
        assert.equal((await jsonOf(["get", "configmap", "settings", "-n", "demo"])).data.greeting, "bonjour");
      });

      await t.step("get prints JSON, YAML, wide tables, label selections and all namespaces", async () => {
        const list = await jsonOf(["get", "all", "-n", "demo"]);
        assert.equal(list.kind, "List");
        const kinds = list.items.map((i: { kind: string }) => i.kind).sort();
        assert.deepEqual(kinds, ["Deployment", "Service"]);
        const yaml = await ok(["get", "secret", "credentials", "-n", "demo", "-o", "yaml"]);
        assert.match(yaml, /^kind: Secret$/m);
        assert.match(yaml, /^ {2}password: aHVudGVyMg==$/m);
        const wide = await ok(["get", "deploy", "-n", "demo", "-o", "wide"]);
        assert.match(wide, /^NAME\s+READY\s+UP-TO-DATE\s+AVAILABLE\s+AGE\s+CONTAINERS\s+IMAGES\s+SELECTOR$/m);
        assert.match(wide, /^web\s+0\/3\s+.*\bweb\s+busybox:latest\s+app=web$/m);
        const labelled = await ok(["get", "cm,svc,deploy", "-n", "demo", "-l", "app=web", "-o", "name"]);
        assert.deepEqual(labelled.trim().split("\n").sort(), [
          "configmap/settings",
          "deployment.apps/web",
          "service/web",
        ]);
        const none = await run(["get", "cm", "-n", "demo", "-l", "app=nothing"]);
        assert.match(none.stderr, /No resources found in demo namespace/);
        const all = await ok(["get", "namespaces", "-A"]);
        for (const ns of ["default", "demo", "kube-system", "kube-public", "kube-node-lease"]) {
          assert.match(all, new RegExp(`^${ns}\\s+Active`, "m"));
        }
        const everywhere = await ok(["get", "secrets", "-A", "--no-headers"]);
        assert.match(everywhere, /^demo\s+credentials\s+Opaque\s+1\s/m);
      });

      await t.step("get -w sees an update", async () => {
        const watcher = new Deno.Command(kubectl, {
          args: ["get", "configmap", "settings", "-n", "demo", "-w", "-o", 'jsonpath={.data.greeting}{"\\n"}'],
          env,
          stdout: "piped",
          stderr: "piped",
        }).spawn();
        const lines = watcher.stdout.pipeThrough(new TextDecoderStream()).getReader();
        let seen = "";
        const until = async (text: string) => {
          const deadline = Date.now() + 20_000;
          while (!seen.includes(text)) {
            const left = deadline - Date.now();
            assert.ok(left > 0, `kubectl get -w did not print ${text}; it printed ${JSON.stringify(seen)}`);
            let timer: ReturnType<typeof setTimeout> | undefined;
            const next = await Promise.race([
              lines.read(),
              new Promise<"timeout">((resolve) => timer = setTimeout(() => resolve("timeout"), left)),
            ]);
            clearTimeout(timer);
            if (next === "timeout" || next.done) continue;
            seen += next.value;
          }
        };
        try {
          await until("bonjour\n");
          await ok([
            "patch",
            "configmap",
            "settings",
            "-n",
            "demo",
            "--type=merge",
            "-p",
            '{"data":{"greeting":"hola"}}',
          ]);
          await until("hola\n");
        } finally {
          watcher.kill("SIGTERM");
          await lines.cancel();
          await watcher.status;
          await watcher.stderr.cancel();
        }
      });

      await t.step("patch applies strategic, merge and JSON patches", async () => {
        await ok([
          "patch",
          "deployment",
          "web",
          "-n",
          "demo",
          "-p",
          '{"spec":{"template":{"spec":{"containers":[{"name":"web","image":"busybox:1.36"}]}}}}',
        ]);
        const deploy = await jsonOf(["get", "deployment", "web", "-n", "demo"]);
        assert.equal(deploy.spec.template.spec.containers[0].image, "busybox:1.36");
        assert.deepEqual(deploy.spec.template.spec.containers[0].ports, [{ containerPort: 80, protocol: "TCP" }]);
        await ok(["patch", "configmap", "settings", "-n", "demo", "--type=merge", "-p", '{"data":{"extra":"1"}}']);
        await ok([
          "patch",
          "configmap",
          "settings",
          "-n",
          "demo",
          "--type=json",
          "-p",
          '[{"op":"remove","path":"/data/extra"},{"op":"replace","path":"/data/greeting","value":"hi"}]',
        ]);
        assert.deepEqual((await jsonOf(["get", "configmap", "settings", "-n", "demo"])).data, { greeting: "hi" });
        const bad = await run(["patch", "configmap", "settings", "-n", "demo", "--type=json", "-p", '[{"op":"nope"}]']);
        assert.notEqual(bad.code, 0);
        assert.match(bad.stderr, /Invalid JSON patch/);
      });

      await t.step("label and annotate change metadata", async () => {
        assert.match(await ok(["label", "deployment", "web", "-n", "demo", "tier=frontend"]), /labeled/);
        assert.match(await ok(["annotate", "deployment", "web", "-n", "demo", "owner=me"]), /annotated/);
        const deploy = await jsonOf(["get", "deployment", "web", "-n", "demo"]);
        assert.equal(deploy.metadata.labels.tier, "frontend");
        assert.equal(deploy.metadata.annotations.owner, "me");
        await ok(["label", "deployment", "web", "-n", "demo", "tier-"]);
        const unlabelled = await jsonOf(["get", "deployment", "web", "-n", "demo"]);
        assert.equal(unlabelled.metadata.labels.tier, undefined);
        const clash = await run(["label", "deployment", "web", "-n", "demo", "app=other"]);
        assert.notEqual(clash.code, 0);
        assert.match(clash.stderr, /already has a value/);
      });

      await t.step("scale sets replicas through the scale subresource", async () => {
        assert.match(await ok(["scale", "deployment", "web", "-n", "demo", "--replicas=5"]), /scaled/);
        assert.equal((await jsonOf(["get", "deployment", "web", "-n", "demo"])).spec.replicas, 5);
      });

      await t.step(
        "apply --server-side conflicts with the scale, and takes the field with --force-conflicts",
        async () => {
          const conflict = await run(["apply", "--server-side", "-f", manifest]);
          assert.notEqual(conflict.code, 0);
          // Fields changed since the last apply belong to other managers now, as in Kubernetes.
          assert.match(conflict.stderr, /conflict with "kubectl-patch" using v1: \.data\.greeting/);
          assert.match(
            conflict.stderr,
            /conflicts? with "kubectl" with subresource "scale" using apps\/v1:(\n- |\s)\.spec\.replicas/,
          );
          const forced = await ok(["apply", "--server-side", "--force-conflicts", "-f", manifest]);
          assert.match(forced, /^deployment\.apps\/web serverside-applied$/m);
          const deploy = await jsonOf(["get", "deployment", "web", "-n", "demo", "--show-managed-fields"]);
          assert.equal(deploy.spec.replicas, 3);
          assert.equal(deploy.metadata.uid, uid);
          assert.ok(
            deploy.metadata.managedFields.some((m: { manager: string; operation: string }) =>
              m.manager === "kubectl" && m.operation === "Apply"
            ),
          );
        },
      );

      await t.step("create makes new objects and refuses existing ones", async () => {
        const doc = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: made\n  namespace: demo\ndata:\n  x: plain\n";
        assert.match(await ok(["create", "-f", "-"], { stdin: doc }), /^configmap\/made created$/m);
        const again = await run(["create", "-f", "-"], { stdin: doc });
        assert.notEqual(again.code, 0);
        assert.match(again.stderr, /AlreadyExists|already exists/);
        const invalid = await run(["create", "-f", "-"], { stdin: doc.replace("name: made", "name: Not_Valid") });
        assert.notEqual(invalid.code, 0);
        assert.match(invalid.stderr, /is invalid: metadata\.name/);
      });

      await t.step("create of an unknown kind says the kind is unknown, not that validation failed", async () => {
        const widget = await run(["create", "-f", "-"], {
          stdin: "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\n",
        });
        assert.notEqual(widget.code, 0);
        assert.match(widget.stderr, /no matches for kind "Widget" in version "example.com\/v1"/);
      });

      await t.step("auth can-i answers from the server's authorizer", async () => {
        assert.equal((await ok(["auth", "can-i", "create", "deployments", "-n", "demo"])).trim(), "yes");
        assert.match(await ok(["auth", "can-i", "--list"]), /\*\.\*\s+\[\]\s+\[\]\s+\[\*\]/);
      });

      await t.step("edit with EDITOR set to a script changes the object", async () => {
        const editor = tmp.join("editor.sh");
        await Deno.writeTextFile(editor, "#!/bin/sh\nsed -i 's/^  x: plain$/  x: edited/' \"$1\"\n");
        await Deno.chmod(editor, 0o755);
        const out = await ok(["edit", "configmap", "made", "-n", "demo"], {
          env: { EDITOR: editor, KUBE_EDITOR: editor },
        });
        assert.match(out, /configmap\/made edited/);
        const cm = await jsonOf(["get", "configmap", "made", "-n", "demo", "--show-managed-fields"]);
        assert.equal(cm.data.x, "edited");
        assert.ok(cm.metadata.managedFields.some((m: { manager: string }) => m.manager === "kubectl-edit"));
      });

      await t.step("delete removes objects", async () => {
        assert.match(await ok(["delete", "configmap", "made", "-n", "demo"]), /configmap "made" deleted/);
        const gone = await run(["get", "configmap", "made", "-n", "demo"]);
        assert.notEqual(gone.code, 0);
        assert.match(gone.stderr, /NotFound/);
        assert.match(
          await ok(["delete", "-f", manifest, "--ignore-not-found", "--wait=false"]),
          /deployment.apps "web" deleted/,
        );
        assert.equal((await run(["get", "deployment", "web", "-n", "demo"])).code, 1);
        // The namespace waits for the namespace controller (issue 5, controller manager) to empty it and clear its
        // "kubernetes" finalizer: until then kubectl would wait forever, so --wait=false, and it stays Terminating.
        const ns = await jsonOf(["get", "namespace", "demo"]);
        assert.equal(ns.status.phase, "Terminating");
        assert.ok(ns.metadata.deletionTimestamp);
      });
    } finally {
      await plane.stop();
    }
    assert.ok(await Deno.stat(join(tmp.path, "data", "state.db")));
  },
});
