/**
 * The real kubectl's typed-client commands against a started control plane:
 * `kubectl create namespace|configmap|secret|deployment|service` and
 * `kubectl drain --disable-eviction` send their bodies as Kubernetes protobuf
 * (`application/vnd.kubernetes.protobuf`), which the API server decodes.
 *
 * @module
 */

import assert from "node:assert/strict";
import { startControlPlane } from "@skiff/control-plane";
import { createTempDir, findKubectl, findProgram, requireTools } from "../support/mod.ts";

// kubectl on PATH is used as it is; without one, findKubectl fetches Debian's kubernetes-client, which needs these.
const needs = findProgram("kubectl") ? { ignore: false } : requireTools(["apt-get", "dpkg-deb"]);

const NODE_AND_PODS = `
apiVersion: v1
kind: Node
metadata:
  name: pi-1
---
apiVersion: v1
kind: Pod
metadata:
  name: lone-1
  namespace: proto
spec:
  nodeName: pi-1
  containers:
  - name: c
    image: busybox:latest
---
apiVersion: v1
kind: Pod
metadata:
  name: lone-2
  namespace: proto
spec:
  nodeName: pi-1
  containers:
  - name: c
    image: busybox:latest
`;

Deno.test({
  name: "kubectl create and drain send protobuf bodies that the API server decodes into the objects asked for",
  ...needs,
  fn: async (t) => {
    const kubectl = await findKubectl();
    await using tmp = await createTempDir({ prefix: "skiff-kubectl-pb-" });
    const plane = await startControlPlane({
      dataDir: tmp.join("data"),
      port: 0,
      bind: "127.0.0.1",
      log: () => {},
    });
    const env = { KUBECONFIG: plane.kubeconfigPath, HOME: tmp.path, NO_PROXY: "127.0.0.1", no_proxy: "127.0.0.1" };
    const run = async (args: string[]) => {
      const out = await new Deno.Command(kubectl, {
        args: ["--request-timeout=30s", ...args],
        env,
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).output();
      const decode = (b: Uint8Array) => new TextDecoder().decode(b);
      return { code: out.code, stdout: decode(out.stdout), stderr: decode(out.stderr) };
    };
    const ok = async (args: string[]) => {
      const result = await run(args);
      assert.equal(result.code, 0, `kubectl ${args.join(" ")} failed:\n${result.stderr}${result.stdout}`);
      return result;
    };
    const jsonOf = async (args: string[]) => JSON.parse((await ok([...args, "-o", "json"])).stdout);

    try {
      await t.step("create namespace sends protobuf and creates the namespace", async () => {
        const created = await ok(["create", "namespace", "proto", "-v=7"]);
        assert.match(created.stdout, /^namespace\/proto created$/m);
        // -v=7 logs the request headers: the body really went as protobuf.
        assert.match(created.stderr, /Content-Type: application\/vnd\.kubernetes\.protobuf/);
        const ns = await jsonOf(["get", "namespace", "proto"]);
        assert.equal(ns.metadata.name, "proto");
        assert.equal(ns.status.phase, "Active");
      });

      await t.step("create configmap and secret generic keep their data", async () => {
        await ok([
          "create",
          "configmap",
          "settings",
          "-n",
          "proto",
          "--from-literal=greeting=hello",
          "--from-literal=x=",
        ]);
        const cm = await jsonOf(["get", "configmap", "settings", "-n", "proto"]);
        assert.deepEqual(cm.data, { greeting: "hello", x: "" });
        await ok(["create", "secret", "generic", "credentials", "-n", "proto", "--from-literal=password=hunter2"]);
        const secret = await jsonOf(["get", "secret", "credentials", "-n", "proto"]);
        assert.equal(secret.type, "Opaque");
        assert.deepEqual(secret.data, { password: btoa("hunter2") });
      });

      await t.step("create deployment gives the pod template kubectl built", async () => {
        const out = await ok([
          "create",
          "deployment",
          "web",
          "-n",
          "proto",
          "--image=busybox",
          "--replicas=2",
          "--port=80",
        ]);
        assert.match(out.stdout, /^deployment\.apps\/web created$/m);
        const deploy = await jsonOf(["get", "deployment", "web", "-n", "proto"]);
        assert.equal(deploy.spec.replicas, 2);
        assert.deepEqual(deploy.metadata.labels, { app: "web" });
        assert.deepEqual(deploy.spec.selector, { matchLabels: { app: "web" } });
        assert.deepEqual(deploy.spec.template.metadata.labels, { app: "web" });
        const [container, ...others] = deploy.spec.template.spec.containers;
        assert.equal(others.length, 0);
        assert.equal(container.name, "busybox");
        assert.equal(container.image, "busybox");
        assert.equal(container.ports[0].containerPort, 80);
        assert.equal(container.ports[0].protocol, "TCP");
      });

      await t.step("create service clusterip and nodeport give the ports asked for", async () => {
        await ok(["create", "service", "clusterip", "web", "-n", "proto", "--tcp=80:8080"]);
        const cluster = await jsonOf(["get", "service", "web", "-n", "proto"]);
        assert.equal(cluster.spec.type, "ClusterIP");
        assert.deepEqual(cluster.spec.selector, { app: "web" });
        assert.match(cluster.spec.clusterIP, /^10\.43\./);
        assert.deepEqual(
          cluster.spec.ports.map((p: Record<string, unknown>) => [p.name, p.protocol, p.port, p.targetPort]),
          [["80-8080", "TCP", 80, 8080]],
        );
        await ok(["create", "service", "nodeport", "edge", "-n", "proto", "--tcp=443:8443", "--node-port=30443"]);
        const edge = await jsonOf(["get", "service", "edge", "-n", "proto"]);
        assert.equal(edge.spec.type, "NodePort");
        assert.equal(edge.spec.ports[0].nodePort, 30443);
        assert.equal(edge.spec.ports[0].targetPort, 8443);
      });

      await t.step("drain --disable-eviction deletes with protobuf DeleteOptions", async () => {
        const manifest = tmp.join("node.yaml");
        await Deno.writeTextFile(manifest, NODE_AND_PODS);
        await ok(["apply", "-f", manifest]);
        const drained = await ok([
          "drain",
          "pi-1",
          "--disable-eviction",
          "--force",
          "--grace-period=0",
          "--timeout=30s",
          "-v=7",
        ]);
        assert.match(drained.stdout, /^pod\/lone-1 deleted$/m);
        assert.match(drained.stdout, /^node\/pi-1 drained$/m);
        assert.match(
          drained.stderr,
          /DELETE .*\/pods\/lone-1[\s\S]*Content-Type: application\/vnd\.kubernetes\.protobuf/,
        );
        const pods = await jsonOf(["get", "pods", "-n", "proto", "--field-selector=spec.nodeName=pi-1"]);
        assert.deepEqual(pods.items, []);
        assert.equal((await jsonOf(["get", "node", "pi-1"])).spec.unschedulable, true);
      });
    } finally {
      await plane.stop();
    }
  },
});
