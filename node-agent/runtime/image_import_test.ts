import assert from "node:assert/strict";
import { join } from "node:path";
import { buildBusyboxImage } from "../../test/fixtures/build_busybox.ts";
import { createTempDir, requireTools, startContainerd, uniqueName } from "../../test/support/mod.ts";
import { type Exec, run } from "../_exec.ts";
import { type ImportedFile, parseImportedRefs, startImageImport } from "./image_import.ts";

const needs = requireTools(["containerd", "ctr", "runc", "tar"], { root: true });

/** A copy of the OCI archive `tar` whose image is named `name`. */
async function renamedArchive(tar: string, name: string, out: string): Promise<void> {
  await using work = await createTempDir({ prefix: "skiff-oci-" });
  await run(["tar", "-xf", tar, "-C", work.path]);
  const index = JSON.parse(await Deno.readTextFile(work.join("index.json")));
  index.manifests[0].annotations["io.containerd.image.name"] = name;
  await Deno.writeTextFile(work.join("index.json"), JSON.stringify(index));
  await run(["tar", "-cf", out, "-C", work.path, "index.json", "oci-layout", "blobs"]);
}

Deno.test({
  name: "startImageImport() imports archives at start, skips them afterwards and imports new ones as they appear",
  ...needs,
  fn: async () => {
    const image = await buildBusyboxImage();
    await using containerd = await startContainerd();
    await using tmp = await createTempDir({ prefix: "skiff-import-" });
    const imagesDir = tmp.join("images");
    await Deno.mkdir(imagesDir);
    await Deno.copyFile(image.path, join(imagesDir, "busybox.tar"));
    await Deno.writeTextFile(join(imagesDir, "notes.txt"), "not an image");
    const namespace = uniqueName("skiff-imp");
    const imported: ImportedFile[] = [];
    const errors: Error[] = [];
    let ctrCalls = 0;
    const exec: Exec = (cmd, options) => {
      if (cmd[0] === "ctr") ctrCalls++;
      return run(cmd, options);
    };
    const options = {
      imagesDir,
      address: containerd.address,
      namespace,
      exec,
      settleMs: 200,
      onImported: (i: ImportedFile) => imported.push(i),
      onError: (e: Error) => errors.push(e),
    };
    const refs = async () => (await containerd.ctr(["images", "ls", "-q"], { namespace })).stdout.trim().split("\n");

    {
      await using _importer = await startImageImport(options);
      assert.deepEqual(imported, [{ file: join(imagesDir, "busybox.tar"), refs: [image.ref] }]);
      assert.deepEqual(await refs(), [image.ref]);

      await renamedArchive(image.path, "registry.example/skiff/tool:1.0", join(imagesDir, "tool.part"));
      await Deno.rename(join(imagesDir, "tool.part"), join(imagesDir, "tool.tar"));
      const deadline = Date.now() + 10_000;
      while (imported.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      assert.deepEqual(imported[1], { file: join(imagesDir, "tool.tar"), refs: ["registry.example/skiff/tool:1.0"] });
      assert.deepEqual((await refs()).sort(), [image.ref, "registry.example/skiff/tool:1.0"]);
    }

    ctrCalls = 0;
    {
      await using _again = await startImageImport(options);
      assert.equal(imported.length, 2, "nothing is imported twice");
      assert.equal(ctrCalls, 0);
    }
    assert.deepEqual(errors, []);
  },
});

Deno.test({
  name: "ImageImporter reports an archive ctr cannot import and tries it again once it changes",
  ...needs,
  fn: async () => {
    await using containerd = await startContainerd();
    await using tmp = await createTempDir({ prefix: "skiff-import-" });
    const image = await buildBusyboxImage();
    await Deno.writeTextFile(tmp.join("broken.tar"), "this is not a tar archive");
    const errors: Error[] = [];
    const options = { imagesDir: tmp.path, address: containerd.address, namespace: uniqueName("skiff-imp") };
    {
      await using importer = await startImageImport({ ...options, onError: (e) => errors.push(e) });
      assert.equal(errors.length, 1);
      assert.match(errors[0]!.message, /^Cannot import image archive ".*broken\.tar": /);
      await Deno.copyFile(image.path, tmp.join("broken.tar"));
      assert.deepEqual(await importer.importAll(), [{ file: tmp.join("broken.tar"), refs: [image.ref] }]);
    }
  },
});

Deno.test("parseImportedRefs() reads the names ctr unpacked", () => {
  const output = "unpacking docker.io/library/busybox:latest " +
    "(sha256:5bbcb55330a85a4727433bb1d70a86712613c308321f0668e6c82c140eb3ac06)...done\n" +
    "unpacking example.com/a/b:2 (sha256:" + "a".repeat(64) + ")...done\n";
  assert.deepEqual(parseImportedRefs(output), ["docker.io/library/busybox:latest", "example.com/a/b:2"]);
  assert.deepEqual(parseImportedRefs(""), []);
});
