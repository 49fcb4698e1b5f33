import assert from "node:assert/strict";
import { join } from "node:path";
import type { Container, Pod } from "@skiff/api";
import { containerConfig, type ContainerConfigInput } from "./container_config.ts";
import { ContainerConfigError } from "./env.ts";
import { pullPolicyOf } from "./image_hook.ts";

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.realPath(await Deno.makeTempDir({ prefix: "skiff-config-" }));
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function input(dir: string, container: Container, pod: Partial<Pod["spec"]> = {}): ContainerConfigInput {
  return {
    pod: { metadata: { name: "web", namespace: "shop", uid: "u1" }, spec: { containers: [container], ...pod } },
    container,
    id: "u1_app_0",
    restartCount: 0,
    image: "docker.io/library/busybox:latest",
    env: [{ name: "GREETING", value: "hello" }, { name: "DIR", value: "logs" }],
    volumes: new Map([["data", { hostPath: join(dir, "data"), readOnly: false }], [
      "cfg",
      { hostPath: join(dir, "cfg"), readOnly: true },
    ]]),
    dns: { hostsPath: join(dir, "etc-hosts"), resolvConfPath: join(dir, "resolv.conf") },
    sandbox: { podIPs: ["10.42.0.7"], netnsPath: "/run/netns/x" },
    devices: [],
    logPath: join(dir, "logs/app/0.log"),
    terminationMessageFile: join(dir, "containers/app/u1_app_0"),
  };
}

Deno.test("containerConfig() expands $(VAR) in command and args, and maps limits, security and labels", async () => {
  await withDir(async (dir) => {
    const spec = await containerConfig(input(dir, {
      name: "app",
      command: ["sh", "-c"],
      args: ["echo $(GREETING) $$(GREETING) $(NOPE)"],
      workingDir: "/work",
      resources: { limits: { cpu: "1500m", memory: "128Mi" } },
      securityContext: { runAsUser: 1000, privileged: true, readOnlyRootFilesystem: true },
      tty: true,
    }, { securityContext: { runAsGroup: 2000 } }));
    assert.deepEqual(spec.command, ["sh", "-c"]);
    assert.deepEqual(spec.args, ["echo hello $(GREETING) $(NOPE)"]);
    assert.equal(spec.workingDir, "/work");
    assert.equal(spec.cpuLimitMillicores, 1500);
    assert.equal(spec.memoryLimitBytes, 128 * 1024 * 1024);
    assert.deepEqual([spec.user, spec.group, spec.privileged, spec.readOnlyRootFilesystem, spec.tty], [
      1000,
      2000,
      true,
      true,
      true,
    ]);
    assert.equal(spec.networkNamespace, "/run/netns/x");
    assert.equal(spec.labels["skiff.dev/pod-uid"], "u1");
    assert.equal(spec.labels["skiff.dev/restart-count"], "0");
    assert.deepEqual(spec.mounts?.map((m) => m.destination), [
      "/etc/hosts",
      "/etc/resolv.conf",
      "/dev/termination-log",
    ]);
  });
});

Deno.test("containerConfig() mounts volumes read-only when they are, and subPaths inside them", async () => {
  await withDir(async (dir) => {
    await Deno.mkdir(join(dir, "data"));
    await Deno.mkdir(join(dir, "cfg"));
    const spec = await containerConfig(input(dir, {
      name: "app",
      terminationMessagePath: "/tmp/done",
      volumeMounts: [
        { name: "data", mountPath: "/data" },
        { name: "data", mountPath: "/logs", subPathExpr: "$(DIR)/app" },
        { name: "cfg", mountPath: "/etc/app" },
        { name: "data", mountPath: "/ro", readOnly: true },
      ],
    }));
    const mounts = Object.fromEntries(spec.mounts!.map((m) => [m.destination, m]));
    assert.deepEqual(mounts["/data"], { source: join(dir, "data"), destination: "/data" });
    assert.deepEqual(mounts["/logs"], { source: join(dir, "data/logs/app"), destination: "/logs" });
    assert.ok((await Deno.stat(join(dir, "data/logs/app"))).isDirectory);
    assert.equal(mounts["/etc/app"]?.readOnly, true);
    assert.equal(mounts["/ro"]?.readOnly, true);
    assert.equal(mounts["/tmp/done"]?.source, join(dir, "containers/app/u1_app_0"));
  });
});

Deno.test("containerConfig() refuses subPaths that leave the volume, unknown volumes and root under runAsNonRoot", async () => {
  await withDir(async (dir) => {
    await Deno.mkdir(join(dir, "data"));
    await Deno.symlink("/etc", join(dir, "data/escape"));
    const config = (container: Partial<Container>) => containerConfig(input(dir, { name: "app", ...container }));
    await assert.rejects(
      config({ volumeMounts: [{ name: "data", mountPath: "/x", subPath: "escape" }] }),
      (e: Error) => e instanceof ContainerConfigError && /points outside the volume/.test(e.message),
    );
    await assert.rejects(
      config({ volumeMounts: [{ name: "data", mountPath: "/x", subPath: "../up" }] }),
      /must be a relative path inside it/,
    );
    await assert.rejects(
      config({ volumeMounts: [{ name: "missing", mountPath: "/x" }] }),
      /volume "missing" of mount "\/x" is not one of the pod's/,
    );
    await assert.rejects(
      config({ securityContext: { runAsNonRoot: true, runAsUser: 0 } }),
      /runAsUser breaks non-root policy/,
    );
    await assert.rejects(config({ securityContext: { runAsNonRoot: true } }), /set runAsUser/);
  });
});

Deno.test("containerConfig() joins the host network for host-network pods and passes devices", async () => {
  await withDir(async (dir) => {
    const base = input(dir, { name: "app" });
    const spec = await containerConfig({ ...base, sandbox: { podIPs: ["192.168.1.10"] }, devices: ["/dev/ttyUSB0"] });
    assert.equal(spec.hostNetwork, true);
    assert.equal(spec.networkNamespace, undefined);
    assert.deepEqual(spec.devices, ["/dev/ttyUSB0"]);
    assert.equal(spec.labels["skiff.dev/devices"], "/dev/ttyUSB0");
  });
});

Deno.test("pullPolicyOf() defaults to Always for latest or untagged images, else IfNotPresent", () => {
  assert.equal(pullPolicyOf({ name: "a", image: "busybox" }), "Always");
  assert.equal(pullPolicyOf({ name: "a", image: "busybox:latest" }), "Always");
  assert.equal(pullPolicyOf({ name: "a", image: "busybox:1.36" }), "IfNotPresent");
  assert.equal(pullPolicyOf({ name: "a", image: `busybox@sha256:${"a".repeat(64)}` }), "IfNotPresent");
  assert.equal(pullPolicyOf({ name: "a", image: "busybox", imagePullPolicy: "Never" }), "Never");
});
