import assert from "node:assert/strict";
import { join } from "node:path";
import { createTempDir, findProgram } from "../test/support/mod.ts";
import {
  checkMachine,
  checkMemoryCgroup,
  diskCheck,
  formatPreflightTable,
  type PreflightCheck,
  type PreflightEnv,
  PreflightError,
  runPreflight,
  systemEnv,
} from "./_preflight.ts";

const DEBIAN_CGROUPS = `#subsys_name\thierarchy\tnum_cgroups\tenabled
cpuset\t3\t1\t1
cpu\t1\t1\t1
memory\t4\t172\t1
pids\t8\t1\t1
`;
const PI_CGROUPS = DEBIAN_CGROUPS.replace("memory\t4\t172\t1", "memory\t0\t70\t0");
const PI_CMDLINE =
  "coherent_pool=1M 8250.nr_uarts=0 console=tty1 root=PARTUUID=3f1a2b-02 rootfstype=ext4 fsck.repair=yes rootwait";
const DF =
  "Filesystem     1024-blocks     Used Available Capacity Mounted on\n/dev/vda 264212084 24179364 82211548 23% /\n";
const PROGRAMS = [
  "containerd",
  "ctr",
  "containerd-shim-runc-v2",
  "runc",
  "nft",
  "ip",
  "mkfs.ext4",
  "losetup",
  "mount",
  "df",
];

/** A machine made of plain data: every program on /usr/bin, the given files, free ports, 78 GiB free. */
function fakeEnv(
  options: {
    uid?: number;
    absent?: string[];
    files?: Record<string, string | undefined>;
    busyPorts?: number[];
    df?: string;
    onRun?: (command: readonly string[]) => void;
  } = {},
): PreflightEnv & { files: Record<string, string | undefined>; absent: Set<string>; commands: string[][] } {
  const absent = new Set(options.absent ?? []);
  const files: Record<string, string | undefined> = {
    "/proc/cgroups": DEBIAN_CGROUPS,
    "/proc/cmdline": "BOOT_IMAGE=/boot/vmlinuz root=/dev/vda ro quiet",
    "/proc/sys/net/ipv4/ip_forward": "1\n",
    "/proc/devices": "Block devices:\n  7 loop\n  8 sd\n",
    ...options.files,
  };
  const commands: string[][] = [];
  const executables = new Set([
    ...PROGRAMS.map((name) => `/usr/bin/${name}`),
    ...["bridge", "host-local", "loopback", "portmap"].map((name) => `/usr/lib/cni/${name}`),
  ]);
  return {
    files,
    absent,
    commands,
    uid: options.uid ?? 0,
    path: "/usr/local/bin:/usr/bin",
    isExecutable: (file) => executables.has(file) && !absent.has(file.slice(file.lastIndexOf("/") + 1)),
    isDirectory: (path) => path === "/" || path === "/var" || path === "/var/lib",
    readFile: (file) => files[file],
    writeFile: (file, text) => void (files[file] = text),
    portFree: (port) => !(options.busyPorts ?? []).includes(port),
    run: (command, onLine) => {
      commands.push([...command]);
      options.onRun?.(command);
      const output = command[0] === "df"
        ? options.df ?? DF
        : `Reading package lists...\nSetting up ${command.at(-1)}\n`;
      for (const line of output.trim().split("\n")) onLine?.(line);
      return Promise.resolve({ code: 0, output });
    },
  };
}

const OPTIONS = { dataDir: "/var/lib/skiff", apiPort: 6443, bind: "0.0.0.0", agent: true };

function row(rows: readonly PreflightCheck[], name: string): PreflightCheck {
  const found = rows.find((r) => r.name === name);
  assert.ok(found, `no "${name}" row in ${rows.map((r) => r.name).join(", ")}`);
  return found;
}

Deno.test("checkMachine() on this machine finds every program, the CNI plugins, the memory cgroup and room", async () => {
  await using tmp = await createTempDir({ prefix: "skiff-preflight-" });
  const rows = await checkMachine(systemEnv(), { ...OPTIONS, dataDir: tmp.join("data"), apiPort: 0, agentPort: 0 });
  const table = formatPreflightTable(rows);
  for (const name of ["containerd", "runc", "nft", "iproute2"]) {
    const program = { containerd: "containerd", runc: "runc", nft: "nft", iproute2: "ip" }[name]!;
    const found = findProgram(program);
    assert.equal(row(rows, name).status, found ? "ok" : "missing", table);
    if (found) assert.equal(row(rows, name).detail, found);
  }
  assert.equal(row(rows, "root").status, Deno.uid() === 0 ? "ok" : "fail", table);
  assert.equal(row(rows, "memory cgroup").status, "ok", table);
  assert.match(row(rows, "disk space").detail, /GiB free for .*\/data$/);
  assert.match(table, /^CHECK\s+STATUS\s+DETAIL\n/);
});

Deno.test("checkMachine() with runc missing from PATH reports the runc package; runPreflight --no-install refuses", async () => {
  await using tmp = await createTempDir({ prefix: "skiff-preflight-path-" });
  const bin = tmp.join("bin");
  await Deno.mkdir(bin);
  for (const name of PROGRAMS.filter((name) => name !== "runc")) {
    const found = findProgram(name);
    if (found) await Deno.symlink(found, join(bin, name));
  }
  const env = systemEnv({ path: bin, uid: 0 });
  const options = { ...OPTIONS, dataDir: tmp.join("data"), apiPort: 0, agentPort: 0 };
  const runc = row(await checkMachine(env, options), "runc");
  assert.equal(runc.status, "missing");
  assert.match(runc.detail, /"runc" not found on PATH/);
  assert.deepEqual(runc.packages, ["runc"]);

  const printed: string[] = [];
  const refused = await runPreflight(env, { ...options, install: false, print: (line) => printed.push(line) }).then(
    () => undefined,
    (error) => error,
  );
  assert.ok(refused instanceof PreflightError, String(refused));
  assert.deepEqual(refused.failed.map((r) => r.name), ["runc"]);
  assert.match(refused.message, /runc: apt-get install -y runc \(or run skiff up without --no-install\)/);
  assert.ok(printed.some((line) => /^\s+runc\s+missing\s+"runc" not found on PATH/.test(line)), printed.join("\n"));
});

Deno.test("runPreflight() as root installs the missing packages with apt-get, streaming its output", async () => {
  const env = fakeEnv({
    absent: ["runc", "nft", "bridge"],
    onRun: (command) => {
      if (command[1] === "install") { for (const name of ["runc", "nft", "bridge"]) env.absent.delete(name); }
    },
  });
  const printed: string[] = [];
  const rows = await runPreflight(env, { ...OPTIONS, install: true, print: (line) => printed.push(line) });
  const apt = env.commands.filter((command) => command[0] === "apt-get");
  assert.deepEqual(apt, [
    ["apt-get", "update"],
    ["apt-get", "install", "-y", "--no-install-recommends", "runc", "nftables", "containernetworking-plugins"],
  ]);
  assert.ok(
    printed.includes("Installing runc, nftables, containernetworking-plugins with apt-get"),
    printed.join("\n"),
  );
  assert.ok(printed.includes("    Setting up containernetworking-plugins"), "apt's output is shown as it comes");
  assert.ok(printed.includes("Preflight, after fixing:"));
  assert.deepEqual(rows.filter((r) => r.status !== "ok").map((r) => r.name), []);
});

Deno.test("runPreflight() with --no-install or not as root only reports, and says how to install", async () => {
  const noInstall = fakeEnv({ absent: ["containerd"] });
  const refused = await runPreflight(noInstall, { ...OPTIONS, install: false, print: () => {} }).catch((e) => e);
  assert.ok(refused instanceof PreflightError);
  assert.deepEqual(noInstall.commands.filter((c) => c[0] === "apt-get"), []);
  assert.match(refused.message, /containerd: "containerd" not found on PATH \(runs containers\)/);

  const user = fakeEnv({ uid: 1000, absent: ["containerd"], files: { "/proc/sys/net/ipv4/ip_forward": "0\n" } });
  const failed = await runPreflight(user, { ...OPTIONS, install: true, print: () => {} }).catch((e) => e);
  assert.ok(failed instanceof PreflightError);
  assert.deepEqual(failed.failed.map((r: PreflightCheck) => r.name), ["root", "containerd", "ip_forward"]);
  assert.match(failed.message, /root: run as root \(`sudo deno task up`\), or pass --no-agent/);
  assert.match(failed.message, /containerd: as root: apt-get install -y containerd/);
  assert.match(failed.message, /ip_forward: as root: skiff up writes 1/);
  assert.deepEqual(user.commands.filter((c) => c[0] === "apt-get"), [], "apt is never run without root");
  assert.equal(user.files["/proc/sys/net/ipv4/ip_forward"], "0\n");
});

Deno.test("runPreflight() on a Raspberry Pi without the memory cgroup refuses with the exact cmdline.txt change", async () => {
  const env = fakeEnv({
    files: {
      "/proc/cgroups": PI_CGROUPS,
      "/proc/cmdline": PI_CMDLINE,
      "/proc/device-tree/model": "Raspberry Pi 4 Model B Rev 1.4\0",
      "/boot/firmware/cmdline.txt": `${PI_CMDLINE}\n`,
    },
  });
  const refused = await runPreflight(env, { ...OPTIONS, install: true, print: () => {} }).catch((e) => e);
  assert.ok(refused instanceof PreflightError);
  const memory = row(refused.failed, "memory cgroup");
  assert.equal(memory.name, "memory cgroup");
  assert.equal(memory.detail, "the memory cgroup controller is disabled on this Raspberry Pi 4 Model B Rev 1.4");
  assert.equal(
    memory.fix,
    'add "cgroup_memory=1 cgroup_enable=memory" to the end of the single line in /boot/firmware/cmdline.txt, ' +
      "then reboot: sudo sed -i '1 s/$/ cgroup_memory=1 cgroup_enable=memory/' /boot/firmware/cmdline.txt && sudo reboot",
  );
  assert.equal(env.files["/boot/firmware/cmdline.txt"], `${PI_CMDLINE}\n`, "cmdline.txt is left alone");

  delete env.files["/boot/firmware/cmdline.txt"];
  assert.match(checkMemoryCgroup(env).fix!, /in \/boot\/cmdline\.txt, then reboot/, "older Raspberry Pi OS");
});

Deno.test("checkMemoryCgroup() elsewhere points at GRUB, naming cgroup_disable=memory when the kernel got it", () => {
  const row = checkMemoryCgroup({
    readFile: (file) =>
      ({ "/proc/cgroups": PI_CGROUPS, "/proc/cmdline": "root=/dev/sda1 cgroup_disable=memory quiet" })[file],
  });
  assert.equal(row.status, "fail");
  assert.match(row.detail, /disabled \(the kernel was booted with cgroup_disable=memory\)/);
  assert.match(row.fix!, /GRUB_CMDLINE_LINUX in \/etc\/default\/grub and remove cgroup_disable=memory.*update-grub/);
  const v2 = checkMemoryCgroup({
    readFile: (file) => file === "/sys/fs/cgroup/cgroup.controllers" ? "cpuset cpu io memory pids\n" : undefined,
  });
  assert.equal(v2.status, "ok", "cgroup v2 without /proc/cgroups");
});

Deno.test("runPreflight() as root turns ip_forward on by writing 1", async () => {
  const env = fakeEnv({ files: { "/proc/sys/net/ipv4/ip_forward": "0\n" } });
  const printed: string[] = [];
  const rows = await runPreflight(env, { ...OPTIONS, install: true, print: (line) => printed.push(line) });
  assert.equal(env.files["/proc/sys/net/ipv4/ip_forward"], "1\n");
  assert.equal(row(rows, "ip_forward").status, "ok");
  assert.ok(printed.some((line) => line.startsWith("Wrote 1 to /proc/sys/net/ipv4/ip_forward")), printed.join("\n"));
});

Deno.test("checkMachine() fails on a taken API port and warns on a taken agent port, on real sockets", async () => {
  using api = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  using agent = Deno.listen({ hostname: "0.0.0.0", port: 0 });
  const apiPort = (api.addr as Deno.NetAddr).port;
  const agentPort = (agent.addr as Deno.NetAddr).port;
  const env = { ...fakeEnv(), portFree: systemEnv().portFree };
  const rows = await checkMachine(env, { ...OPTIONS, apiPort, bind: "127.0.0.1", agentPort });
  assert.equal(row(rows, "API port").status, "fail");
  assert.match(row(rows, "API port").fix!, new RegExp(`ss -ltnp 'sport = :${apiPort}'.*or pass --port`));
  assert.equal(row(rows, "agent port").status, "warn");
});

Deno.test("diskCheck() fails under 1 GiB free, warns under 5 GiB, and reads df -Pk", () => {
  const df = (kib: number) =>
    `Filesystem 1024-blocks Used Available Capacity Mounted on\n/dev/root 100 1 ${kib} 1% /\n`;
  assert.equal(diskCheck("/d", df(512 * 1024)).status, "fail");
  assert.match(diskCheck("/d", df(512 * 1024)).fix!, /--data-dir on a larger disk/);
  assert.equal(diskCheck("/d", df(3 * 1024 * 1024)).status, "warn");
  assert.deepEqual(diskCheck("/d", df(8 * 1024 * 1024)), {
    name: "disk space",
    status: "ok",
    detail: "8.0 GiB free for /d",
  });
  assert.equal(diskCheck("/d", "df: /d: No such file or directory").status, "warn");
});

Deno.test("checkMachine() asks df about the nearest existing parent of the data directory", async () => {
  const env = fakeEnv();
  await checkMachine(env, { ...OPTIONS, dataDir: "/var/lib/skiff/new" });
  assert.deepEqual(env.commands, [["df", "-Pk", "/var/lib"]]);
});

Deno.test("checkMachine() with --no-agent checks only the ports and the disk", async () => {
  const env = fakeEnv({ uid: 1000, absent: ["containerd", "runc"], files: { "/proc/cgroups": PI_CGROUPS } });
  const rows = await checkMachine(env, { ...OPTIONS, agent: false });
  assert.deepEqual(rows.map((r) => [r.name, r.status]), [["API port", "ok"], ["disk space", "ok"]]);
});

Deno.test("checkMachine() reports volume size limits off without loop devices, and e2fsprogs when mkfs.ext4 is missing", async () => {
  const noLoop = fakeEnv({ files: { "/proc/devices": "Block devices:\n  8 sd\n" } });
  const off = row(await checkMachine(noLoop, OPTIONS), "volume size limits");
  assert.equal(off.status, "warn");
  assert.match(off.detail, /the kernel has no loop devices/);
  const noMkfs = row(await checkMachine(fakeEnv({ absent: ["mkfs.ext4"] }), OPTIONS), "volume size limits");
  assert.deepEqual(noMkfs.packages, ["e2fsprogs"]);
});
