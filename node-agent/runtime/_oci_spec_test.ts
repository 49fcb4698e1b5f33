import assert from "node:assert/strict";
import type { ImageConfig } from "./_image_config.ts";
import {
  buildOciSpec,
  DEFAULT_PATH_ENV,
  deviceInfo,
  mergeEnv,
  type OciSpec,
  processArgs,
  resolveUser,
  splitDeviceNumber,
} from "./_oci_spec.ts";
import type { ContainerSpec } from "./runtime.ts";

const image: ImageConfig = {
  entrypoint: ["/entry"],
  cmd: ["serve", "--port=80"],
  env: ["PATH=/bin", "LANG=C"],
  workingDir: "/app",
  user: "",
  stopSignal: "",
};

/** A trimmed copy of what `ctr oci spec` prints. */
const base: OciSpec = {
  ociVersion: "1.0.2-dev",
  process: {
    user: { uid: 0, gid: 0 },
    cwd: "/",
    capabilities: { bounding: ["CAP_CHOWN"], effective: ["CAP_CHOWN"], permitted: ["CAP_CHOWN"] },
    noNewPrivileges: true,
  },
  root: { path: "rootfs" },
  mounts: [
    { destination: "/proc", type: "proc", source: "proc", options: ["nosuid"] },
    { destination: "/sys", type: "sysfs", source: "sysfs", options: ["nosuid", "ro"] },
  ],
  linux: {
    resources: { devices: [{ allow: false, access: "rwm" }] },
    cgroupsPath: "/default",
    namespaces: [{ type: "pid" }, { type: "ipc" }, { type: "uts" }, { type: "mount" }, { type: "network" }],
    maskedPaths: ["/proc/kcore"],
    readonlyPaths: ["/proc/sys"],
  },
};

const passwd =
  "root:x:0:0:root:/root:/bin/sh\nweb:x:1000:1000::/home/web:/bin/sh\nnobody:x:65534:65534::/:/bin/false\n";
const group = "root:x:0:\nweb:x:1000:\nvideo:x:44:web,other\nnogroup:x:65534:\n";

const spec = (extra: Partial<ContainerSpec> = {}): ContainerSpec => ({
  id: "c1",
  image: "busybox",
  labels: {},
  ...extra,
});
const context = { base, image, namespace: "skiff", rootfs: "/state/rootfs/c1", passwd, group };

Deno.test("processArgs() follows Kubernetes: command replaces the entrypoint, args replace cmd", () => {
  assert.deepEqual(processArgs({}, image), ["/entry", "serve", "--port=80"]);
  assert.deepEqual(processArgs({ args: ["-v"] }, image), ["/entry", "-v"]);
  assert.deepEqual(processArgs({ command: ["sh"] }, image), ["sh"]);
  assert.deepEqual(processArgs({ command: ["sh"], args: ["-c", "true"] }, image), ["sh", "-c", "true"]);
});

Deno.test("mergeEnv() overrides the image's variables by name and adds PATH when the image has none", () => {
  assert.deepEqual(mergeEnv(image.env, [{ name: "LANG", value: "de" }, { name: "X", value: "a=b" }]), [
    "PATH=/bin",
    "LANG=de",
    "X=a=b",
  ]);
  assert.deepEqual(mergeEnv([], []), [DEFAULT_PATH_ENV]);
});

Deno.test("resolveUser() resolves ids and names through the image's passwd and group", () => {
  assert.deepEqual(resolveUser({}, "", { passwd, group }), { uid: 0, gid: 0, additionalGids: [0] });
  assert.deepEqual(resolveUser({}, "web", { passwd, group }), { uid: 1000, gid: 1000, additionalGids: [1000, 44] });
  assert.deepEqual(resolveUser({}, "1000:video", { passwd, group }), { uid: 1000, gid: 44, additionalGids: [44] });
  assert.deepEqual(resolveUser({ user: 1000 }, "nobody", { passwd, group }), {
    uid: 1000,
    gid: 1000,
    additionalGids: [1000, 44],
  });
  assert.deepEqual(resolveUser({ user: 4242 }, "", { passwd, group }), { uid: 4242, gid: 0, additionalGids: [0] });
  assert.deepEqual(resolveUser({ user: 4242, group: 7 }, "", {}), { uid: 4242, gid: 7, additionalGids: [7] });
  assert.throws(() => resolveUser({}, "ghost", { passwd }), /Cannot find user "ghost" of the image/);
  assert.throws(() => resolveUser({}, "web:ghosts", { passwd, group }), /Cannot find group "ghosts"/);
});

Deno.test("buildOciSpec() puts the container's process, limits, mounts and network into the spec", () => {
  const out = buildOciSpec(
    spec({
      command: ["sh", "-c", "echo hi"],
      env: [{ name: "A", value: "1" }],
      workingDir: "/work",
      user: 1000,
      memoryLimitBytes: 64 * 1024 * 1024,
      cpuLimitMillicores: 250,
      mounts: [{ source: "/data", destination: "/data" }, { source: "/cfg", destination: "/etc/cfg", readOnly: true }],
      networkNamespace: "/run/netns/pod-1",
      readOnlyRootFilesystem: true,
    }),
    { ...context, hostname: "web-0" },
  );
  assert.deepEqual(out.process?.args, ["sh", "-c", "echo hi"]);
  assert.deepEqual(out.process?.env, ["PATH=/bin", "LANG=C", "A=1"]);
  assert.equal(out.process?.cwd, "/work");
  assert.deepEqual(out.process?.user, { uid: 1000, gid: 1000, additionalGids: [1000, 44] });
  assert.equal(out.process?.noNewPrivileges, false);
  assert.deepEqual(out.root, { path: "/state/rootfs/c1", readonly: true });
  assert.equal(out.hostname, "web-0");
  assert.equal(out.linux?.cgroupsPath, "/skiff/c1");
  assert.deepEqual(out.linux?.resources?.memory, { limit: 64 * 1024 * 1024 });
  assert.deepEqual(out.linux?.resources?.cpu, { quota: 25_000, period: 100_000 });
  assert.deepEqual(out.linux?.namespaces?.find((n) => n.type === "network"), {
    type: "network",
    path: "/run/netns/pod-1",
  });
  assert.deepEqual(out.mounts?.slice(-2), [
    { destination: "/data", type: "bind", source: "/data", options: ["rbind", "rw"] },
    { destination: "/etc/cfg", type: "bind", source: "/cfg", options: ["rbind", "ro"] },
  ]);
  assert.equal(base.linux?.cgroupsPath, "/default", "the base spec is not changed");
});

Deno.test("buildOciSpec() with host networking drops the network and UTS namespaces and binds the host's resolver files", () => {
  const out = buildOciSpec(spec({ command: ["true"], hostNetwork: true }), { ...context, hostname: "web-0" });
  assert.deepEqual(out.linux?.namespaces?.map((n) => n.type), ["pid", "ipc", "mount"]);
  assert.equal(out.hostname, undefined);
  assert.deepEqual(out.mounts?.slice(-2).map((m) => [m.destination, m.source, m.options]), [
    ["/etc/hosts", "/etc/hosts", ["rbind", "ro"]],
    ["/etc/resolv.conf", "/etc/resolv.conf", ["rbind", "ro"]],
  ]);
});

Deno.test("buildOciSpec() gives a privileged container every capability, the host's devices and a writable /sys", () => {
  const tty = { path: "/dev/ttyUSB0", type: "c" as const, major: 188, minor: 0, fileMode: 0o660, uid: 0, gid: 20 };
  const out = buildOciSpec(spec({ command: ["true"], privileged: true }), { ...context, hostDevices: [tty] });
  assert.ok(out.process?.capabilities?.bounding?.includes("CAP_SYS_ADMIN"));
  assert.deepEqual(out.linux?.maskedPaths, []);
  assert.deepEqual(out.linux?.readonlyPaths, []);
  assert.deepEqual(out.linux?.resources?.devices, [{ allow: true, access: "rwm" }]);
  assert.deepEqual(out.linux?.devices, [tty]);
  assert.deepEqual(out.mounts?.find((m) => m.destination === "/sys")?.options, ["nosuid"]);
});

Deno.test("buildOciSpec() adds requested devices as nodes and allows them in the device cgroup", () => {
  const dev = { path: "/dev/video0", type: "c" as const, major: 81, minor: 0, fileMode: 0o660, uid: 0, gid: 44 };
  const out = buildOciSpec(spec({ command: ["true"] }), { ...context, devices: [dev] });
  assert.deepEqual(out.linux?.devices, [dev]);
  assert.deepEqual(out.linux?.resources?.devices?.at(-1), {
    allow: true,
    type: "c",
    major: 81,
    minor: 0,
    access: "rwm",
  });
  assert.deepEqual(out.linux?.resources?.devices?.[0], { allow: false, access: "rwm" });
});

Deno.test("buildOciSpec() refuses a container without any command", () => {
  assert.throws(
    () => buildOciSpec(spec(), { ...context, image: { ...image, entrypoint: [], cmd: [] } }),
    /Cannot create container "c1": neither it nor its image names a command/,
  );
});

Deno.test("splitDeviceNumber() and deviceInfo() read device numbers", async () => {
  assert.deepEqual(splitDeviceNumber(0x0103), { major: 1, minor: 3 });
  assert.deepEqual(splitDeviceNumber(0xbc00), { major: 188, minor: 0 });
  const nul = await deviceInfo("/dev/null");
  assert.deepEqual([nul.type, nul.major, nul.minor], ["c", 1, 3]);
  await assert.rejects(
    deviceInfo("/etc/hostname"),
    /Invalid device "\/etc\/hostname": it is not a character or block device/,
  );
  await assert.rejects(deviceInfo("/dev/skiff-none"), /Invalid device "\/dev\/skiff-none"/);
});
