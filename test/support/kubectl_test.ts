import assert from "node:assert/strict";
import { run } from "./_run.ts";
import { findKubectl } from "./kubectl.ts";
import { findProgram, requireTools } from "./requirements.ts";
import { createTempDir } from "./tmp.ts";

Deno.test("findKubectl() returns a kubectl that runs", async () => {
  const kubectl = await findKubectl();
  const onPath = findProgram("kubectl");
  if (onPath !== undefined) assert.equal(kubectl, onPath);
  const version = await run([kubectl, "version", "--client"]);
  assert.match(version.stdout, /Client Version/);
});

Deno.test({
  name: "findKubectl() without PATH unpacks Debian's kubernetes-client into the cache, once",
  ...requireTools(["apt-get", "dpkg-deb"]),
  fn: async () => {
    await using tmp = await createTempDir({ prefix: "skiff-kubectl-" });
    const cacheDir = tmp.join("cache", "kubernetes-client");
    const kubectl = await findKubectl({ usePath: false, cacheDir });
    assert.equal(kubectl, `${cacheDir}/usr/bin/kubectl`);
    const version = await run([kubectl, "version", "--client"]);
    assert.match(version.stdout, /Client Version/);

    const before = (await Deno.stat(kubectl)).mtime;
    assert.equal(await findKubectl({ usePath: false, cacheDir }), kubectl);
    assert.deepEqual((await Deno.stat(kubectl)).mtime, before);
    assert.deepEqual(
      [...Deno.readDirSync(tmp.join("cache"))].map((e) => e.name),
      ["kubernetes-client"],
      "no work directory is left in the cache",
    );
  },
});
