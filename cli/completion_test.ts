import assert from "node:assert/strict";
import { join } from "node:path";
import { captureIo } from "./_test_harness.ts";
import { runCli } from "./main.ts";

async function script(shell: string): Promise<string> {
  const { io, stdout, stderr } = captureIo();
  const code = await runCli(["completion", shell], io);
  assert.equal(code, 0, stderr());
  return stdout();
}

function hasShell(name: string): boolean {
  try {
    return new Deno.Command(name, { args: ["-c", "exit 0"], stdout: "null", stderr: "null" }).outputSync().success;
  } catch {
    return false;
  }
}

async function run(cmd: string, args: string[]): Promise<{ code: number; out: string; err: string }> {
  const result = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  return {
    code: result.code,
    out: new TextDecoder().decode(result.stdout),
    err: new TextDecoder().decode(result.stderr),
  };
}

/** A stand-in `skiff` for the scripts' name lookups: it answers `get <type> … -o jsonpath=…` with fixed names. */
const FAKE_SKIFF = `skiff() { case "$*" in
  "get pods -n kube-system "*) echo "coredns-1 proxy-x" ;;
  "get pods "*) echo "web-1 web-2" ;;
  "get nodes "*) echo "pi-1 pi-2" ;;
  "get namespaces "*) echo "default kube-system" ;;
esac; }`;

async function bashComplete(words: string[]): Promise<string[]> {
  const dir = await Deno.makeTempDir();
  try {
    const file = join(dir, "skiff.bash");
    await Deno.writeTextFile(file, await script("bash"));
    const line = words.map((w) => `'${w}'`).join(" ");
    const result = await run("bash", [
      "-c",
      `${FAKE_SKIFF}\nsource ${file}\nCOMP_WORDS=(${line}); COMP_CWORD=${
        words.length - 1
      }; _skiff; printf '%s\\n' "\${COMPREPLY[@]}"`,
    ]);
    assert.equal(result.code, 0, result.err);
    return result.out.split("\n").filter((l) => l !== "");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("completion bash completes commands, subcommands, flags, flag values, types and object names", async () => {
  assert.deepEqual(await bashComplete(["skiff", "ge"]), ["get"]);
  assert.deepEqual(await bashComplete(["skiff", "rollout", "s"]), ["status"]);
  assert.ok((await bashComplete(["skiff", "get", "--al"])).includes("--all-namespaces"));
  assert.ok((await bashComplete(["skiff", "get", "pods", "--kube"])).includes("--kubeconfig"), "global flags too");
  assert.deepEqual(await bashComplete(["skiff", "get", "pods", "-o", "js"]), ["json", "jsonpath="]);
  assert.deepEqual(await bashComplete(["skiff", "completion", "--help", "z"]), []);
  const types = await bashComplete(["skiff", "get", "dep"]);
  assert.deepEqual(types, ["deploy", "deployment", "deployments"]);
  assert.deepEqual(await bashComplete(["skiff", "describe", "pods", "web"]), ["web-1", "web-2"]);
  assert.deepEqual(await bashComplete(["skiff", "-n", "kube-system", "logs", ""]), ["coredns-1", "proxy-x"]);
  assert.deepEqual(await bashComplete(["skiff", "drain", "pi"]), ["pi-1", "pi-2"]);
  assert.deepEqual(await bashComplete(["skiff", "get", "pods", "-n", "kube"]), ["kube-system"]);
  assert.deepEqual(await bashComplete(["skiff", "top", "node"]), ["nodes", "node"]);
  assert.deepEqual(await bashComplete(["skiff", "top", "no", "--sort-by", ""]), ["cpu", "memory"], "aliases resolve");
});

Deno.test("completion scripts follow the program: every command appears in each", async () => {
  const bash = await script("bash");
  const zsh = await script("zsh");
  const fish = await script("fish");
  for (
    const command of [
      "get",
      "describe",
      "apply",
      "create",
      "delete",
      "edit",
      "label",
      "annotate",
      "scale",
      "rollout",
      "logs",
      "exec",
      "top",
      "cordon",
      "uncordon",
      "drain",
      "events",
      "version",
      "completion",
      "up",
    ]
  ) {
    assert.ok(bash.includes(command), `bash: ${command}`);
    assert.ok(fish.includes(`-a '${command}'`), `fish: ${command}`);
  }
  assert.ok(zsh.startsWith("#compdef skiff\n"));
  assert.ok(zsh.includes("bashcompinit"));
  const syntax = await run("bash", ["-n", "-c", bash]);
  assert.equal(syntax.code, 0, syntax.err);
});

Deno.test({
  name: "completion zsh loads in zsh",
  ignore: !hasShell("zsh"),
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      const file = join(dir, "_skiff");
      await Deno.writeTextFile(file, await script("zsh"));
      const result = await run("zsh", ["-f", "-c", `source ${file} && whence -w _skiff`]);
      assert.equal(result.code, 0, result.err);
      assert.match(result.out, /_skiff: function/);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "completion fish completes commands, subcommands and types in fish",
  ignore: !hasShell("fish"),
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      const file = join(dir, "skiff.fish");
      await Deno.writeTextFile(file, await script("fish"));
      const complete = async (line: string) => {
        const fake = 'function skiff; if test "$argv[2]" = pods; echo web-1 web-2; end; end';
        const result = await run("fish", ["--no-config", "-c", `${fake}; source ${file}; complete -C '${line}'`]);
        assert.equal(result.code, 0, result.err);
        return result.out.split("\n").filter((l) => l !== "").map((l) => l.split("\t")[0]);
      };
      assert.ok((await complete("skiff ge")).includes("get"));
      assert.deepEqual(await complete("skiff rollout sta"), ["status"]);
      assert.ok((await complete("skiff get dep")).includes("deployments"));
      assert.ok((await complete("skiff get pods --all-")).includes("--all-namespaces"));
      assert.deepEqual(await complete("skiff get pods web"), ["web-1", "web-2"]);
      assert.deepEqual(await complete("skiff top no --sort-by "), ["cpu", "memory"]);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
