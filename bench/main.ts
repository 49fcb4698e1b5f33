/**
 * Runs one benchmark: `deno task bench <name> [--quick]` runs
 * `bench/<name>.ts` in its own process, so figures such as RSS are its own.
 *
 * @module
 */

const [name, ...rest] = Deno.args;
const available = [...Deno.readDirSync(new URL(".", import.meta.url))]
  .map((e) => e.name)
  .filter((n) => n.endsWith(".ts") && !n.startsWith("_") && n !== "main.ts")
  .map((n) => n.slice(0, -3))
  .sort();
if (!name || !available.includes(name)) {
  console.error(
    `${name ? `Unknown benchmark "${name}"` : "No benchmark named"}: choose one of ${available.join(", ")}\n` +
      "Usage: deno task bench <name> [--quick]",
  );
  Deno.exit(2);
}
const child = new Deno.Command(Deno.execPath(), {
  args: ["run", "-A", new URL(`./${name}.ts`, import.meta.url).pathname, ...rest],
  stdout: "inherit",
  stderr: "inherit",
}).spawn();
Deno.exit((await child.status).code);
