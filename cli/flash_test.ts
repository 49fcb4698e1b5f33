import assert from "node:assert/strict";
import { parse } from "yaml";
import { requireTools } from "../test/support/requirements.ts";
import { buildBundles } from "../tools/bundle.ts";
import { requireDenoTarballs } from "../tools/_requirements.ts";
import { captureIo } from "./_test_harness.ts";
import { checkDeviceNotInUse, disksOf } from "./_flash_target.ts";
import { withKernelFlags } from "./_flash_firstboot.ts";
import { runFlash } from "./flash_run.ts";
import { runCli } from "./main.ts";

const tools = requireTools(["mcopy", "mdir", "mmd", "sfdisk", "mkfs.vfat", "truncate", "shellcheck", "tar", "sh"]);
const needsImage = { ignore: tools.ignore };
const npm = tools.ignore ? { ignore: true } : await requireDenoTarballs(["arm64"]);
const needsBundle = { ignore: tools.ignore || npm.ignore };

const SERVER = "https://192.168.1.10:6443";
const TOKEN = `K10${"ab".repeat(32)}::abcdef.0123456789abcdef`;
const SSH_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGm6Wmy0VqXoEm0MGiR8Zi1Vb0yWQvnMKqEyLs7qYm1p me@laptop";
/** Raspberry Pi OS Bookworm's cmdline.txt, one line. */
const PI_CMDLINE =
  "console=serial0,115200 console=tty1 root=PARTUUID=4e639091-02 rootfstype=ext4 fsck.repair=yes rootwait quiet init=/usr/lib/raspberrypi-sys-mods/firstboot\n";
const MTOOLS_ENV = { MTOOLS_SKIP_CHECK: "1" };

/** The boot partition starts 4 MiB in, as on Raspberry Pi OS. */
const BOOT_OFFSET = 4 * 1024 * 1024;

let bundlePromise: Promise<string> | undefined;
let bundleDir: string | undefined;

/** The real arm64 bundle, built once for this file (removed when the tests end). */
function arm64Bundle(): Promise<string> {
  bundlePromise ??= (async () => {
    bundleDir = Deno.makeTempDirSync({ prefix: "skiff-flash-bundle-" });
    const [built] = await buildBundles({ archs: ["arm64"], outDir: bundleDir });
    return built!.path;
  })();
  return bundlePromise;
}

globalThis.addEventListener("unload", () => {
  if (bundleDir !== undefined) Deno.removeSync(bundleDir, { recursive: true });
});

async function sh(
  program: string,
  args: string[],
  stdin?: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = new Deno.Command(program, {
    args,
    env: MTOOLS_ENV,
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(stdin));
    await writer.close();
  }
  const out = await child.output();
  const decoder = new TextDecoder();
  return { code: out.code, stdout: decoder.decode(out.stdout), stderr: decoder.decode(out.stderr) };
}

async function must(program: string, args: string[], stdin?: string): Promise<string> {
  const result = await sh(program, args, stdin);
  assert.equal(result.code, 0, `${program} ${args.join(" ")} failed: ${result.stderr}`);
  return result.stdout;
}

interface ImageSpec {
  /** Partition table: `dos` (MBR) or `gpt`. */
  label?: "dos" | "gpt";
  /** Whether partition 1 is a FAT32 boot partition (else both are Linux). */
  fat?: boolean;
  /** Files on the boot partition, by name. */
  files?: Record<string, string>;
}

/** A Pi-like image: a 96 MiB FAT32 boot partition at 4 MiB, then a small Linux one. */
async function makeImage(dir: string, spec: ImageSpec = {}): Promise<string> {
  const image = `${dir}/pi-${crypto.randomUUID().slice(0, 8)}.img`;
  await must("truncate", ["-s", "112M", image]);
  const label = spec.label ?? "dos";
  const fat = spec.fat ?? true;
  const bootType = !fat
    ? (label === "gpt" ? "L" : "83")
    : label === "gpt"
    ? "C12A7328-F81F-11D2-BA4B-00A0C93EC93B"
    : "c";
  await must(
    "sfdisk",
    ["-q", image],
    `label: ${label}\nstart=8192, size=196608, type=${bootType}\nstart=204800, type=${label === "gpt" ? "L" : "83"}\n`,
  );
  if (fat) {
    await must("mkfs.vfat", ["-F", "32", "-n", "bootfs", "--offset", "8192", image, "98304"]);
    for (const [name, text] of Object.entries(spec.files ?? { "cmdline.txt": PI_CMDLINE })) {
      const file = `${dir}/${name}`;
      await Deno.writeTextFile(file, text);
      await must("mcopy", ["-i", `${image}@@${BOOT_OFFSET}`, file, `::/${name}`]);
    }
  }
  return image;
}

/** Reads a file back from the boot partition with mtools, independently of the code under test. */
async function readBack(image: string, path: string): Promise<Uint8Array> {
  const out = await new Deno.Command("mcopy", {
    args: ["-i", `${image}@@${BOOT_OFFSET}`, `::${path}`, "-"],
    env: MTOOLS_ENV,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.ok(out.success, `mcopy ::${path} failed: ${new TextDecoder().decode(out.stderr)}`);
  return out.stdout;
}

async function readBackText(image: string, path: string): Promise<string> {
  return new TextDecoder().decode(await readBack(image, path));
}

/** Checks a shell script with `sh -n` and shellcheck. */
async function checkScript(dir: string, name: string, text: string): Promise<void> {
  const file = `${dir}/${name}`;
  await Deno.writeTextFile(file, text);
  await must("sh", ["-n", file]);
  const lint = await sh("shellcheck", ["-s", "sh", file]);
  assert.equal(lint.code, 0, `shellcheck ${name}:\n${lint.stdout}${lint.stderr}`);
}

function count(text: string, word: string): number {
  return text.trim().split(/\s+/).filter((w) => w === word).length;
}

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "skiff-flash-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test({
  name: "runFlash() on an MBR image with firstrun.sh writes bundle, scripts and cmdline flags that all read back",
  ...needsBundle,
  fn: () =>
    withTempDir(async (dir) => {
      const bundle = await arm64Bundle();
      const image = await makeImage(dir, {
        files: { "cmdline.txt": PI_CMDLINE, "config.txt": "# /boot/firmware/overlays/README\narm_64bit=1\n" },
      });
      await Deno.writeTextFile(`${dir}/key.pub`, `${SSH_KEY}\n`);
      const { io, stdout, stderr } = captureIo();
      const result = await runFlash(io, {
        image,
        server: SERVER,
        token: TOKEN,
        hostname: "pi-1",
        sshKey: `${dir}/key.pub`,
        wifi: "Home Net 'n' Co",
        wifiPassword: 'pa$$ "word" `x`',
        wifiCountry: "gb",
        bundle,
      });
      assert.equal(result.mode, "firstrun");
      assert.deepEqual(result.partition, { index: 1, offset: BOOT_OFFSET, size: 96 * 1024 * 1024, table: "mbr" });
      const bundleName = bundle.split("/").at(-1)!;
      assert.deepEqual(result.files.sort(), [
        "/cmdline.txt",
        "/firstrun.sh",
        "/skiff/agent.env",
        "/skiff/setup.sh",
        `/skiff/${bundleName}`,
      ]);

      assert.deepEqual(await readBack(image, `/skiff/${bundleName}`), await Deno.readFile(bundle));
      const cmdline = await readBackText(image, "/cmdline.txt");
      assert.equal(cmdline.split("\n").filter((l) => l !== "").length, 1, "cmdline.txt stays one line");
      assert.ok(cmdline.startsWith(PI_CMDLINE.trim()), "the image's own flags are kept first");
      for (const flag of ["cgroup_memory=1", "cgroup_enable=memory", "cfg80211.ieee80211_regdom=GB"]) {
        assert.equal(count(cmdline, flag), 1, flag);
      }
      assert.equal(count(cmdline, "systemd.run=/boot/firmware/firstrun.sh"), 1);
      assert.equal(count(cmdline, "systemd.run_success_action=reboot"), 1);

      assert.equal(
        await readBackText(image, "/skiff/agent.env"),
        `SKIFF_AGENT_FLAGS=--server ${SERVER} --token ${TOKEN}\n`,
      );
      const firstrun = await readBackText(image, "/firstrun.sh");
      await checkScript(dir, "firstrun.sh", firstrun);
      assert.match(firstrun, /hostname='pi-1'/);
      assert.ok(firstrun.includes(SSH_KEY));
      assert.ok(firstrun.includes(`ssid='Home Net '"'"'n'"'"' Co'`), "the SSID is quoted for the shell");
      assert.match(firstrun, /systemctl enable skiff-setup\.service/);
      const setup = await readBackText(image, "/skiff/setup.sh");
      await checkScript(dir, "setup.sh", setup);
      assert.ok(setup.includes(bundleName));
      assert.match(setup, /install\.sh" "\$@"/);

      assert.match(stderr(), /\[1\/5\] Writing skiff\/skiff-.*-linux-arm64\.tar\.gz/);
      assert.match(stderr(), /Verifying: reading the 5 files back/);
      assert.match(stdout(), /all 5 files verified/);

      // The firstrun.sh as the Pi runs it: takes itself off cmdline.txt, leaving the cgroup flags.
      const boot = `${dir}/boot`;
      await Deno.mkdir(`${boot}/skiff`, { recursive: true });
      await Deno.writeTextFile(`${boot}/cmdline.txt`, cmdline);
      const sed = /sed -i (.*) "\$boot\/cmdline\.txt"/.exec(firstrun)![1]!;
      await must("sh", ["-c", `sed -i ${sed} "$1"`, "sh", `${boot}/cmdline.txt`]);
      const after = await Deno.readTextFile(`${boot}/cmdline.txt`);
      assert.equal(
        after,
        withKernelFlags(PI_CMDLINE, ["cgroup_memory=1", "cgroup_enable=memory", "cfg80211.ieee80211_regdom=GB"]),
      );
    }),
});

Deno.test({
  name: "runFlash() twice on the same image keeps each kernel flag once and verifies again",
  ...needsBundle,
  fn: () =>
    withTempDir(async (dir) => {
      const bundle = await arm64Bundle();
      const image = await makeImage(dir);
      const options = { image, server: SERVER, token: TOKEN, hostname: "pi-2", bundle };
      await runFlash(captureIo().io, options);
      const second = captureIo();
      await runFlash(second.io, { ...options, hostname: "pi-3" });
      const cmdline = await readBackText(image, "/cmdline.txt");
      for (const flag of ["cgroup_memory=1", "cgroup_enable=memory", "systemd.unit=kernel-command-line.target"]) {
        assert.equal(count(cmdline, flag), 1, flag);
      }
      assert.equal(cmdline.match(/systemd\.run=/g)?.length, 1);
      assert.match(await readBackText(image, "/firstrun.sh"), /hostname='pi-3'/);
      assert.equal(await readBack(image, "/skiff/imager-firstrun.sh").catch(() => undefined), undefined);
      assert.match(second.stdout(), /verified/);
    }),
});

Deno.test({
  name: "runFlash() keeps Raspberry Pi Imager's firstrun.sh and runs it first",
  ...needsBundle,
  fn: () =>
    withTempDir(async (dir) => {
      const bundle = await arm64Bundle();
      const imager = "#!/bin/bash\nset +e\necho imager\nrm -f /boot/firstrun.sh\nexit 0\n";
      const cmdline = PI_CMDLINE.trim() +
        " systemd.run=/boot/firstrun.sh systemd.run_success_action=reboot systemd.unit=kernel-command-line.target\n";
      const image = await makeImage(dir, { files: { "cmdline.txt": cmdline, "firstrun.sh": imager } });
      const { io, stderr } = captureIo();
      await runFlash(io, { image, server: SERVER, token: TOKEN, hostname: "pi-4", bundle });
      assert.equal(await readBackText(image, "/skiff/imager-firstrun.sh"), imager);
      const firstrun = await readBackText(image, "/firstrun.sh");
      assert.match(firstrun, /bash "\$skiff\/imager-firstrun\.sh"/);
      assert.match(firstrun, /boot='\/boot'/, "the boot directory Imager's flag names is kept");
      await checkScript(dir, "firstrun.sh", firstrun);
      const written = await readBackText(image, "/cmdline.txt");
      assert.equal(count(written, "systemd.run=/boot/firstrun.sh"), 1);
      assert.match(stderr(), /Keeping Raspberry Pi Imager's firstrun\.sh/);
    }),
});

Deno.test({
  name: "runFlash() on a cloud-init image merges user-data, writes network-config and meta-data",
  ...needsBundle,
  fn: () =>
    withTempDir(async (dir) => {
      const bundle = await arm64Bundle();
      const userData =
        "#cloud-config\nusers:\n  - name: pi\n    passwd: $y$j9T$hash\n    lock_passwd: false\npackages:\n  - vim\n";
      const image = await makeImage(dir, {
        files: {
          "cmdline.txt": PI_CMDLINE,
          "user-data": userData,
          "meta-data": "instance-id: rpios-image\n",
          "network-config": "# cloud-init network configuration\n",
        },
      });
      await Deno.writeTextFile(`${dir}/key.pub`, `${SSH_KEY}\n`);
      const { io } = captureIo();
      const result = await runFlash(io, {
        image,
        server: SERVER,
        token: TOKEN,
        hostname: "pi-5",
        sshKey: `${dir}/key.pub`,
        wifi: "homelab",
        wifiPassword: "correct horse",
        wifiCountry: "DE",
        bundle,
        instanceId: "skiff-pi-5-test",
      });
      assert.equal(result.mode, "cloud-init");
      const user = await readBackText(image, "/user-data");
      assert.ok(user.startsWith("#cloud-config\n"));
      const data = parse(user) as Record<string, unknown>;
      assert.equal(data["hostname"], "pi-5");
      assert.deepEqual(data["users"], [{ name: "pi", passwd: "$y$j9T$hash", lock_passwd: false }]);
      assert.deepEqual(data["packages"], [
        "vim",
        "containerd",
        "runc",
        "containernetworking-plugins",
        "nftables",
        "iproute2",
      ]);
      assert.deepEqual(data["ssh_authorized_keys"], [SSH_KEY]);
      const runcmd = data["runcmd"] as string[][];
      const setupCommand = runcmd.at(-1)!;
      assert.equal(setupCommand[0], "sh");
      await checkScript(dir, "runcmd.sh", `#!/bin/sh\n${setupCommand[2]}\n`);

      const network = parse(await readBackText(image, "/network-config")) as {
        network: { version: number; wifis: { wlan0: Record<string, unknown> } };
      };
      assert.equal(network.network.version, 2);
      assert.deepEqual(network.network.wifis.wlan0["access-points"], { homelab: { password: "correct horse" } });
      assert.equal(network.network.wifis.wlan0["regulatory-domain"], "DE");
      assert.deepEqual(parse(await readBackText(image, "/meta-data")), {
        "instance-id": "skiff-pi-5-test",
        "local-hostname": "pi-5",
      });
      await checkScript(dir, "setup.sh", await readBackText(image, "/skiff/setup.sh"));
      const cmdline = await readBackText(image, "/cmdline.txt");
      assert.equal(count(cmdline, "cgroup_memory=1"), 1);
      assert.ok(!cmdline.includes("systemd.run"), "cloud-init needs no systemd.run");

      // Flashing again does not add the setup command twice.
      await runFlash(captureIo().io, { image, server: SERVER, token: TOKEN, hostname: "pi-5", bundle });
      const again = parse(await readBackText(image, "/user-data")) as { runcmd: unknown[]; packages: string[] };
      assert.equal(again.runcmd.length, runcmd.length);
      assert.equal(again.packages.length, 6);
    }),
});

Deno.test({
  name: "runFlash() finds the FAT partition on a GPT image",
  ...needsBundle,
  fn: () =>
    withTempDir(async (dir) => {
      const bundle = await arm64Bundle();
      const image = await makeImage(dir, { label: "gpt" });
      const result = await runFlash(captureIo().io, { image, server: SERVER, token: TOKEN, hostname: "pi-6", bundle });
      assert.equal(result.partition.table, "gpt");
      assert.equal(result.partition.offset, BOOT_OFFSET);
      assert.equal(count(await readBackText(image, "/cmdline.txt"), "cgroup_enable=memory"), 1);
    }),
});

Deno.test({
  name: "runFlash() refuses an image without a FAT partition, and one without a partition table",
  ...needsImage,
  fn: () =>
    withTempDir(async (dir) => {
      const options = { server: SERVER, token: TOKEN, hostname: "pi-7", bundle: `${dir}/none.tar.gz` };
      const linuxOnly = await makeImage(dir, { fat: false });
      await assert.rejects(
        runFlash(captureIo().io, { ...options, image: linuxOnly }),
        /No FAT partition on ".*" \(MBR partitions: 1: 0x83, 2: 0x83\)/,
      );
      const gptLinux = await makeImage(dir, { label: "gpt", fat: false });
      await assert.rejects(
        runFlash(captureIo().io, { ...options, image: gptLinux }),
        /No FAT partition on ".*" \(GPT partitions/,
      );
      const blank = `${dir}/blank.img`;
      await must("truncate", ["-s", "8M", blank]);
      await assert.rejects(
        runFlash(captureIo().io, { ...options, image: blank }),
        /Cannot read a partition table on ".*blank\.img"/,
      );
    }),
});

Deno.test({
  name: "runFlash() refuses a missing bundle and an amd64 bundle",
  ...needsImage,
  fn: () =>
    withTempDir(async (dir) => {
      const image = await makeImage(dir);
      const options = { image, server: SERVER, token: TOKEN, hostname: "pi-8" };
      await assert.rejects(
        runFlash(captureIo().io, { ...options, bundle: `${dir}/missing.tar.gz` }),
        /No arm64 bundle at ".*missing\.tar\.gz": build it with `deno task bundle`/,
      );
      await Deno.mkdir(`${dir}/skiff-0.1.0-linux-amd64`);
      await Deno.writeTextFile(`${dir}/skiff-0.1.0-linux-amd64/install.sh`, "#!/bin/sh\n");
      await must("tar", ["-czf", `${dir}/amd64.tar.gz`, "-C", dir, "skiff-0.1.0-linux-amd64"]);
      await assert.rejects(
        runFlash(captureIo().io, { ...options, bundle: `${dir}/amd64.tar.gz` }),
        /is not a Skiff linux-arm64 bundle/,
      );
      assert.equal(count(await readBackText(image, "/cmdline.txt"), "cgroup_memory=1"), 0, "nothing was written");
    }),
});

Deno.test("skiff flash without its required flags exits 2 and names the missing flag", async () => {
  const cases: [string[], RegExp][] = [
    [["--server", SERVER, "--token", TOKEN, "--hostname", "pi"], /exactly one of --image FILE .* or --device/],
    [
      ["--image", "a.img", "--device", "/dev/sdz", "--server", SERVER, "--token", TOKEN, "--hostname", "pi"],
      /exactly one of --image/,
    ],
    [["--image", "a.img", "--token", TOKEN, "--hostname", "pi"], /Missing --server: the API server URL/],
    [["--image", "a.img", "--server", SERVER, "--hostname", "pi"], /Missing --token: a join token/],
    [["--image", "a.img", "--server", SERVER, "--token", TOKEN], /Missing --hostname/],
    [
      ["--image", "a.img", "--server", "http://x:6443", "--token", TOKEN, "--hostname", "pi"],
      /Invalid --server "http:\/\/x:6443"/,
    ],
    [
      ["--image", "a.img", "--server", SERVER, "--token", "abcdef.0123456789abcdef", "--hostname", "pi"],
      /Invalid --token: Invalid join token/,
    ],
    [["--image", "a.img", "--server", SERVER, "--token", TOKEN, "--hostname", "Pi_1"], /Invalid --hostname "Pi_1"/],
    [
      ["--image", "a.img", "--server", SERVER, "--token", TOKEN, "--hostname", "pi", "--wifi", "x"],
      /--wifi and --wifi-password go together/,
    ],
    [[
      "--image",
      "a.img",
      "--server",
      SERVER,
      "--token",
      TOKEN,
      "--hostname",
      "pi",
      "--wifi",
      "x",
      "--wifi-password",
      "short",
    ], /a WPA passphrase has 8 to 63 characters/],
    [[
      "--image",
      "a.img",
      "--server",
      SERVER,
      "--token",
      TOKEN,
      "--hostname",
      "pi",
      "--ssh-key",
      "/nonexistent/key.pub",
    ], /Cannot read --ssh-key "\/nonexistent\/key\.pub"/],
    [
      ["--image", "/nonexistent/a.img", "--server", SERVER, "--token", TOKEN, "--hostname", "pi"],
      /Invalid --image "\/nonexistent\/a\.img": it does not exist/,
    ],
    [
      ["--device", "/dev/skiff-no-such-disk", "--server", SERVER, "--token", TOKEN, "--hostname", "pi"],
      /Invalid --device "\/dev\/skiff-no-such-disk": it does not exist/,
    ],
    [
      ["--device", "/etc/hostname", "--server", SERVER, "--token", TOKEN, "--hostname", "pi"],
      /Invalid --device "\/etc\/hostname": it is not a block device/,
    ],
  ];
  for (const [args, expected] of cases) {
    const { io, stderr } = captureIo();
    const code = await runCli(["flash", ...args], io);
    assert.equal(code, 2, `${args.join(" ")}: ${stderr()}`);
    assert.match(stderr(), expected, args.join(" "));
  }
});

Deno.test("skiff flash --ssh-key refuses a private key", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/id`, "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n");
    const { io, stderr } = captureIo();
    const code = await runCli(
      ["flash", "--image", "a.img", "--server", SERVER, "--token", TOKEN, "--hostname", "pi", "--ssh-key", `${dir}/id`],
      io,
    );
    assert.equal(code, 2);
    assert.match(stderr(), /is not an SSH public key; pass the \.pub file/);
  });
});

Deno.test("checkDeviceNotInUse() refuses the system's disk and a disk with a mounted partition", async () => {
  await withTempDir(async (dir) => {
    const mounts = `${dir}/mounts`;
    const machine = { mounts, sys: `${dir}/no-sys` };
    await Deno.writeTextFile(
      mounts,
      [
        "/dev/sda2 / ext4 rw,relatime 0 0",
        "/dev/sda1 /boot/firmware vfat rw 0 0",
        "proc /proc proc rw 0 0",
        "/dev/sdc1 /media/me/bootfs\\040card vfat rw 0 0",
        "/dev/mmcblk0p1 /mnt/sd vfat rw 0 0",
        "tmpfs /run tmpfs rw 0 0",
        "",
      ].join("\n"),
    );
    await assert.rejects(
      checkDeviceNotInUse("/dev/sda", machine),
      /Refusing to write "\/dev\/sda": it is the disk this system runs from \(\/dev\/sda2 is mounted at \/\)/,
    );
    await assert.rejects(
      checkDeviceNotInUse("/dev/sdc", machine),
      /Refusing to write "\/dev\/sdc": \/dev\/sdc1 is mounted at \/media\/me\/bootfs card; unmount it first \(umount \/dev\/sdc1\)/,
    );
    await assert.rejects(checkDeviceNotInUse("/dev/mmcblk0", machine), /\/dev\/mmcblk0p1 is mounted at \/mnt\/sd/);
    await checkDeviceNotInUse("/dev/sdb", machine);
    await checkDeviceNotInUse("/dev/mmcblk1", machine);
  });
});

Deno.test("checkDeviceNotInUse() reports an unreadable mount table", async () => {
  await assert.rejects(
    checkDeviceNotInUse("/dev/sdb", { mounts: "/nonexistent/mounts" }),
    /Cannot read the mount table "\/nonexistent\/mounts"/,
  );
});

Deno.test("disksOf() maps partitions to their disks by kernel name", () => {
  assert.deepEqual(disksOf("sdb1", "/nonexistent"), ["sdb"]);
  assert.deepEqual(disksOf("mmcblk0p2", "/nonexistent"), ["mmcblk0"]);
  assert.deepEqual(disksOf("nvme0n1p3", "/nonexistent"), ["nvme0n1"]);
  assert.deepEqual(disksOf("loop3p1", "/nonexistent"), ["loop3"]);
  assert.deepEqual(disksOf("sdb", "/nonexistent"), ["sdb"]);
});

Deno.test("disksOf() follows device-mapper slaves in sysfs to the disks underneath", async () => {
  await withTempDir(async (sys) => {
    await Deno.mkdir(`${sys}/class/block/dm-0/slaves/sda3`, { recursive: true });
    assert.deepEqual(disksOf("dm-0", sys), ["sda"]);
  });
});

Deno.test("withKernelFlags() appends to the single line once, and drops what it is told", () => {
  const once = withKernelFlags(PI_CMDLINE, ["cgroup_memory=1", "cgroup_enable=memory"]);
  assert.equal(once, `${PI_CMDLINE.trim()} cgroup_memory=1 cgroup_enable=memory\n`);
  assert.equal(withKernelFlags(once, ["cgroup_memory=1", "cgroup_enable=memory"]), once);
  assert.equal(withKernelFlags("a b systemd.run=/x.sh\n", ["c"], /^systemd\.run=/), "a b c\n");
  assert.equal(withKernelFlags("a\n\n", ["b"]), "a b\n");
});

const loop = requireTools(["losetup"], { root: true });

Deno.test({
  name: "runFlash() writes a card through its block device, and refuses one of its partitions",
  ignore: needsBundle.ignore || loop.ignore,
  fn: () =>
    withTempDir(async (dir) => {
      const bundle = await arm64Bundle();
      const image = await makeImage(dir);
      const device = (await must("losetup", ["--show", "-f", "-P", image])).trim();
      try {
        const machine = { mounts: `${dir}/mounts` };
        await Deno.writeTextFile(machine.mounts, "/dev/sda2 / ext4 rw 0 0\n");
        const { io, stdout } = captureIo();
        const result = await runFlash(io, { device, server: SERVER, token: TOKEN, hostname: "pi-9", bundle, machine });
        assert.equal(result.partition.offset, BOOT_OFFSET);
        assert.match(stdout(), new RegExp(`Flashed "${device}"`));
        const partition = `${device}p1`;
        if (await Deno.stat(partition).then(() => true, () => false)) {
          await assert.rejects(
            runFlash(captureIo().io, {
              device: partition,
              server: SERVER,
              token: TOKEN,
              hostname: "pi-9",
              bundle,
              machine,
            }),
            new RegExp(
              `Invalid --device "${partition}": it is a partition; pass the whole card, e.g. --device ${device}`,
            ),
          );
        }
        await Deno.writeTextFile(machine.mounts, `${partition} /media/bootfs vfat rw 0 0\n`);
        await assert.rejects(
          runFlash(captureIo().io, { device, server: SERVER, token: TOKEN, hostname: "pi-9", bundle, machine }),
          /is mounted at \/media\/bootfs; unmount it first/,
        );
      } finally {
        await must("losetup", ["-d", device]);
      }
      assert.equal(count(await readBackText(image, "/cmdline.txt"), "cgroup_memory=1"), 1);
      assert.deepEqual(await readBack(image, `/skiff/${bundle.split("/").at(-1)}`), await Deno.readFile(bundle));
    }),
});
