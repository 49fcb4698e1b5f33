import { buildBusyboxImage } from "../../test/fixtures/build_busybox.ts";
import { requireTools, startContainerd } from "../../test/support/mod.ts";
import { runRuntimeConformance } from "./conformance.ts";
import { dispose, newRuntime } from "./_test_support.ts";

const needs = requireTools(["containerd", "ctr", "runc", "mount", "umount", "mkfifo", "tar"], { root: true });

// One private containerd per test: the suite registers its own tests, and nothing runs after
// the last of them to stop a shared one (a final "stop" test is skipped by --filter).
if (!needs.ignore) {
  const image = await buildBusyboxImage();
  runRuntimeConformance("containerd", async () => {
    const containerd = await startContainerd();
    try {
      const { runtime, stateDir } = await newRuntime(containerd, image);
      return {
        runtime,
        image: "busybox",
        commands: {
          sleep: ["sleep", "3600"],
          exit: (code) => ["sh", "-c", `exit ${code}`],
          print: (text) => ["sh", "-c", `echo ${text}; sleep 3600`],
        },
        cleanup: async () => {
          try {
            await dispose(runtime, stateDir);
          } finally {
            await containerd.stop();
          }
        },
      };
    } catch (error) {
      await containerd.stop();
      throw error;
    }
  });
}
