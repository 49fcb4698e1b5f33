import assert from "node:assert/strict";
import * as grpc from "@grpc/grpc-js";
import { type GetPluginInfoResponse, loadCsiPackage } from "@skiff/csi-local";
import { requireTools } from "../test/support/requirements.ts";
import { requireDenoTarballs } from "./_requirements.ts";
import { buildBundles, type BuiltBundle, bundleName, REPO_ROOT, SKIFF_VERSION } from "./bundle.ts";

/** The arm64 C library that qemu-aarch64-static needs to run the dynamically linked arm64 deno. */
const ARM64_SYSROOT = "/usr/aarch64-linux-gnu";
const ARM64_LOADER = `${ARM64_SYSROOT}/lib/ld-linux-aarch64.so.1`;

const tools = requireTools(["tar", "shellcheck", "sh", "qemu-aarch64-static", ARM64_LOADER], {
  hints: { [ARM64_LOADER]: "install: apt-get install -y libc6-arm64-cross libgcc-s1-arm64-cross" },
});
const npm = tools.ignore ? { ignore: true } : await requireDenoTarballs(["amd64", "arm64"]);
const needs = { ignore: tools.ignore || npm.ignore };

let built: Promise<{ dir: string; bundles: BuiltBundle[] }> | undefined;
let workDir: string | undefined;

/** Both bundles, built once for this file and unpacked side by side (removed when the tests end). */
function bundles(): Promise<{ dir: string; bundles: BuiltBundle[] }> {
  built ??= (async () => {
    workDir = Deno.makeTempDirSync({ prefix: "skiff-bundle-test-" });
    const result = await buildBundles({ outDir: workDir });
    for (const bundle of result) await run("tar", ["-xzf", bundle.path, "-C", workDir]);
    return { dir: workDir, bundles: result };
  })();
  return built;
}

globalThis.addEventListener("unload", () => {
  if (workDir !== undefined) Deno.removeSync(workDir, { recursive: true });
});

async function run(
  program: string,
  args: string[],
  options: { env?: Record<string, string>; clearEnv?: boolean; cwd?: string } = {},
): Promise<string> {
  const out = await new Deno.Command(program, {
    args,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    ...options,
  }).output();
  const decoder = new TextDecoder();
  assert.ok(
    out.success,
    `${program} ${args.join(" ")} failed (${out.code}): ${decoder.decode(out.stderr)}${decoder.decode(out.stdout)}`,
  );
  return decoder.decode(out.stdout) + decoder.decode(out.stderr);
}

/** A clean environment: no HOME, no deno.json around, a fresh DENO_DIR. */
function cleanEnv(dir: string): { env: Record<string, string>; clearEnv: true; cwd: string } {
  return { env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin", DENO_DIR: `${dir}/deno-dir` }, clearEnv: true, cwd: dir };
}

Deno.test({
  name: "buildBundles() writes one tarball per architecture with the program, deno, unit and install script",
  ...needs,
  fn: async () => {
    const { dir, bundles: result } = await bundles();
    assert.deepEqual(result.map((b) => b.arch), ["amd64", "arm64"]);
    for (const bundle of result) {
      const name = bundleName(SKIFF_VERSION, bundle.arch);
      assert.equal(bundle.path, `${dir}/${name}.tar.gz`);
      const listing = (await run("tar", ["-tzf", bundle.path])).trim().split("\n").filter((l) => !l.endsWith("/"));
      assert.deepEqual(listing.sort(), [
        `${name}/bin/skiff`,
        `${name}/install.sh`,
        `${name}/lib/skiff/ARCH`,
        `${name}/lib/skiff/VERSION`,
        `${name}/lib/skiff/deno`,
        `${name}/lib/skiff/skiff.js`,
        `${name}/skiff-agent.service`,
      ]);
      assert.equal(await Deno.readTextFile(`${dir}/${name}/lib/skiff/ARCH`), `${bundle.arch}\n`);
      assert.equal(
        await Deno.readTextFile(`${dir}/${name}/skiff-agent.service`),
        await Deno.readTextFile(`${REPO_ROOT}packaging/skiff-agent.service`),
      );
    }
    // ELF e_machine (bytes 18-19, little endian): 0x3e x86-64, 0xb7 AArch64.
    const machine = async (arch: "amd64" | "arm64") => {
      const file = await Deno.open(`${dir}/${bundleName(SKIFF_VERSION, arch)}/lib/skiff/deno`);
      const header = new Uint8Array(20);
      await file.read(header);
      file.close();
      return header[18]! | (header[19]! << 8);
    };
    assert.equal(await machine("amd64"), 0x3e);
    assert.equal(await machine("arm64"), 0xb7);
  },
});

Deno.test({
  name: "the amd64 bundle's skiff runs --version, agent --help and csi-local --help natively, with no sources around",
  ...needs,
  fn: async () => {
    const { dir } = await bundles();
    const skiff = `${dir}/${bundleName(SKIFF_VERSION, "amd64")}/bin/skiff`;
    const env = cleanEnv(dir);
    assert.equal((await run(skiff, ["--version"], env)).trim(), SKIFF_VERSION);
    assert.match(await run(skiff, ["agent", "--help"], env), /Usage: skiff agent/);
    assert.match(await run(skiff, ["csi-local", "--help"], env), /Usage: csi-local/);
    assert.match(await run(skiff, ["flash", "--help"], env), /Usage: skiff flash/);
  },
});

Deno.test({
  name: "the amd64 bundle's csi-local answers GetPluginInfo from the CSI protocol embedded in the program",
  ...needs,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const { dir } = await bundles();
    const skiff = `${dir}/${bundleName(SKIFF_VERSION, "amd64")}/bin/skiff`;
    const socket = `${dir}/csi/csi.sock`;
    const child = new Deno.Command(skiff, {
      args: ["csi-local", "--endpoint", `unix://${socket}`, "--data-dir", `${dir}/csi/data`, "--node-id", "test"],
      ...cleanEnv(dir),
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    const stderr = new Response(child.stderr).text();
    try {
      const deadline = Date.now() + 60_000;
      let up = false;
      while (!up && Date.now() < deadline) {
        up = await Deno.stat(socket).then((info) => info.isSocket === true, () => false);
        if (!up) await new Promise((resolve) => setTimeout(resolve, 200));
      }
      assert.ok(up, "csi-local never created its socket");
      const identity = new (loadCsiPackage().Identity)(`unix://${socket}`, grpc.credentials.createInsecure());
      try {
        const info = await new Promise<GetPluginInfoResponse>((resolve, reject) =>
          (identity as unknown as {
            GetPluginInfo: (
              request: object,
              options: grpc.CallOptions,
              callback: (error: Error | null, response: unknown) => void,
            ) => void;
          }).GetPluginInfo(
            {},
            { deadline: Date.now() + 10_000 },
            (error, response) => error ? reject(error) : resolve(response as GetPluginInfoResponse),
          )
        );
        assert.equal(info.name, "local.csi.skiff.dev");
      } finally {
        identity.close();
      }
    } finally {
      child.kill("SIGTERM");
      await child.status;
    }
    assert.doesNotMatch(await stderr, /csi\.proto|ENOENT/);
  },
});

Deno.test({
  name: "the arm64 bundle's deno runs the bundled skiff --version under qemu-aarch64-static",
  ...needs,
  fn: async () => {
    const { dir } = await bundles();
    const lib = `${dir}/${bundleName(SKIFF_VERSION, "arm64")}/lib/skiff`;
    const output = await run(
      "qemu-aarch64-static",
      ["-L", ARM64_SYSROOT, `${lib}/deno`, "run", "-A", "--no-config", "--no-lock", `${lib}/skiff.js`, "--version"],
      cleanEnv(dir),
    );
    assert.equal(output.trim(), SKIFF_VERSION);
  },
});

Deno.test({
  name: "install.sh --root installs the program, the unit and the agent's flags (mode 0600), and skiff runs from there",
  ...needs,
  fn: async () => {
    const { dir } = await bundles();
    const root = `${dir}/root`;
    const token = `K10${"cd".repeat(32)}::abcdef.0123456789abcdef`;
    const output = await run("sh", [
      `${dir}/${bundleName(SKIFF_VERSION, "amd64")}/install.sh`,
      "--root",
      root,
      "--prefix",
      "/opt/skiff",
      "--server",
      "https://10.0.0.1:6443",
      "--token",
      token,
    ]);
    assert.match(output, /Installed\. Start the agent with: systemctl enable --now skiff-agent/);
    const unit = await Deno.readTextFile(`${root}/etc/systemd/system/skiff-agent.service`);
    assert.match(unit, /^ExecStart=\/opt\/skiff\/bin\/skiff agent \$SKIFF_AGENT_FLAGS$/m);
    assert.match(unit, /^EnvironmentFile=-\/etc\/default\/skiff-agent$/m);
    const defaults = `${root}/etc/default/skiff-agent`;
    assert.equal(
      await Deno.readTextFile(defaults),
      `SKIFF_AGENT_FLAGS=--server https://10.0.0.1:6443 --token ${token}\n`,
    );
    assert.equal((await Deno.stat(defaults)).mode! & 0o777, 0o600);
    assert.equal(
      (await run(`${root}/opt/skiff/bin/skiff`, ["--version"], cleanEnv(dir))).trim(),
      SKIFF_VERSION,
    );
  },
});

Deno.test({
  name: "install.sh refuses half a join and an http server, naming the flag",
  ...needs,
  fn: async () => {
    const { dir } = await bundles();
    const script = `${dir}/${bundleName(SKIFF_VERSION, "amd64")}/install.sh`;
    const attempt = async (args: string[]) => {
      const out = await new Deno.Command("sh", { args: [script, "--root", `${dir}/refused`, ...args], stderr: "piped" })
        .output();
      return { code: out.code, stderr: new TextDecoder().decode(out.stderr) };
    };
    const half = await attempt(["--server", "https://10.0.0.1:6443"]);
    assert.equal(half.code, 1);
    assert.match(half.stderr, /--server and --token go together/);
    const http = await attempt(["--server", "http://10.0.0.1:6443", "--token", "x"]);
    assert.match(http.stderr, /--server "http:\/\/10\.0\.0\.1:6443" is not an https:\/\/ URL/);
    const unknown = await attempt(["--bogus"]);
    assert.match(unknown.stderr, /unknown argument "--bogus"/);
  },
});

Deno.test({
  name: "install.sh and the launcher pass shellcheck",
  ignore: tools.ignore,
  fn: async () => {
    await run("shellcheck", [`${REPO_ROOT}packaging/install.sh`, `${REPO_ROOT}packaging/skiff-launcher.sh`]);
    await run("sh", ["-n", `${REPO_ROOT}packaging/install.sh`]);
  },
});
