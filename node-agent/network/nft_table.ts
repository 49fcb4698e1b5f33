/**
 * Applies a rendered {@linkcode NftRuleset} to the kernel: one `nft -f -`
 * transaction per change, so the table is never seen half-written and
 * established connections keep their conntrack NAT through every update.
 *
 * The first apply (and every full one) reads which chains and sets the table
 * has, rewrites all rules and static elements and deletes what is no longer
 * wanted; later applies write only the difference from the model applied
 * before, and nothing at all when there is none. When a difference fails to
 * apply (someone changed the table behind our back), the same call falls
 * back to a full rewrite, and when that fails too, to deleting and creating
 * the table in one transaction.
 *
 * @module
 */

import { type Exec, run } from "../_exec.ts";
import { isUpdatable, type NftRuleset, type NftTableContents, renderTransaction, SKIFF_TABLE } from "./nft_ruleset.ts";

/** Options of {@linkcode NftTable}. */
export interface NftTableOptions {
  /** Runs `nft` (default: {@linkcode run}); tests pass a recorder. */
  exec?: Exec;
  /** Work inside this named network namespace (a simulated host); default: the agent's own. */
  netns?: string;
  /** The table's name, in family `ip` (default {@linkcode SKIFF_TABLE}); must match the rulesets applied. */
  table?: string;
}

/** How an apply went. */
export interface NftApplyReport {
  /**
   * `unchanged` (nothing written), `update` (the difference), `full` (every
   * rule rewritten) or `recreate` (the table deleted and created).
   */
  mode: "unchanged" | "update" | "full" | "recreate";
  /** Milliseconds spent, including reading the table for a full apply. */
  durationMs: number;
  /** Size of the script given to `nft`, in characters. */
  scriptChars: number;
  /** Why an easier mode was given up before the one that worked, if one was. */
  fallbackReasons: string[];
}

/** Options of {@linkcode NftTable.apply}. */
export interface NftApplyOptions {
  /** Rewrite every rule even when a previous model is known (a periodic resync). */
  full?: boolean;
}

const TABLE_NAME = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/;

/** One nftables table of family `ip`, replaced atomically with each new ruleset. */
export class NftTable {
  readonly #exec: Exec;
  readonly #netns: string | undefined;
  readonly #table: string;
  #applied: NftRuleset | undefined;

  /**
   * Checks the options; nothing touches the system until the first call.
   *
   * @throws {TypeError} naming the option that is not valid.
   */
  constructor(options: NftTableOptions = {}) {
    if (options.netns !== undefined && !/^[^/\s\0]{1,255}$/.test(options.netns)) {
      throw new TypeError(`Invalid option "netns": "${options.netns}" is not a network namespace name`);
    }
    const table = options.table ?? SKIFF_TABLE;
    if (!TABLE_NAME.test(table)) {
      throw new TypeError(
        `Invalid option "table": "${table}" is not a table name (a letter, then letters, digits, "_" or "-")`,
      );
    }
    this.#exec = options.exec ?? run;
    this.#netns = options.netns;
    this.#table = table;
  }

  /** The table's name. */
  get name(): string {
    return this.#table;
  }

  /** The ruleset applied last, or `undefined` before the first apply or after a failed one. */
  get applied(): NftRuleset | undefined {
    return this.#applied;
  }

  /**
   * Makes the table hold exactly `ruleset`, in one transaction.
   *
   * @throws {TypeError} when `ruleset` is for another table.
   * @throws {CommandError} when `nft` refuses even a fresh table (the
   *   previous rules then stay as they were).
   */
  async apply(ruleset: NftRuleset, options: NftApplyOptions = {}): Promise<NftApplyReport> {
    if (ruleset.table !== this.#table) {
      throw new TypeError(`Cannot apply a ruleset for table "${ruleset.table}" to table "${this.#table}"`);
    }
    const started = performance.now();
    const fallbackReasons: string[] = [];
    const done = (mode: NftApplyReport["mode"], script: string): NftApplyReport => {
      this.#applied = ruleset;
      return { mode, durationMs: performance.now() - started, scriptChars: script.length, fallbackReasons };
    };
    const previous = this.#applied;
    this.#applied = undefined;
    if (previous !== undefined && !options.full) {
      const script = renderTransaction(ruleset, { previous });
      if (script === "") return done("unchanged", script);
      try {
        await this.#nft(script);
        return done(isUpdatable(previous, ruleset) ? "update" : "recreate", script);
      } catch (error) {
        fallbackReasons.push(`update: ${messageOf(error)}`);
      }
    }
    try {
      const script = renderTransaction(ruleset, { existing: await this.contents() });
      await this.#nft(script);
      return done("full", script);
    } catch (error) {
      fallbackReasons.push(`full: ${messageOf(error)}`);
    }
    const script = renderTransaction(ruleset, { recreate: true });
    await this.#nft(script);
    return done("recreate", script);
  }

  /**
   * The chains, sets and maps the table holds now, or `undefined` when
   * there is no such table.
   *
   * @throws {CommandError} when `nft` cannot list them.
   */
  async contents(): Promise<NftTableContents | undefined> {
    const [chains, sets, maps] = await Promise.all([this.#names("chains"), this.#names("sets"), this.#names("maps")]);
    if (chains.length === 0 && sets.length === 0 && maps.length === 0 && !await this.exists()) return undefined;
    return {
      chains,
      sets: [
        ...sets.map((name) => ({ name, kind: "set" as const })),
        ...maps.map((name) => ({ name, kind: "map" as const })),
      ],
    };
  }

  /** Names of this table's chains, sets or maps (`nft list … ip`, which lists every table of the family). */
  async #names(what: "chains" | "sets" | "maps"): Promise<string[]> {
    const terse = what === "chains" ? [] : ["-t"];
    const { stdout } = await this.#run(["nft", "-j", ...terse, "list", what, "ip"]);
    const items = (JSON.parse(stdout) as { nftables?: Record<string, { table?: string; name?: string }>[] }).nftables ??
      [];
    return items.flatMap((item) =>
      Object.values(item).flatMap((value) =>
        value?.table === this.#table && typeof value.name === "string" ? [value.name] : []
      )
    );
  }

  /** Whether the table exists. */
  async exists(): Promise<boolean> {
    const { stdout } = await this.#run(["nft", "-j", "list", "tables", "ip"]);
    const items = (JSON.parse(stdout) as { nftables?: { table?: { name?: string } }[] }).nftables ?? [];
    return items.some((item) => item.table?.name === this.#table);
  }

  /**
   * Deletes the table with everything in it; returns whether it existed.
   * Connections it translated stop being translated once no NAT chain is
   * left in the namespace.
   *
   * @throws {CommandError} when `nft` fails for another reason than a missing table.
   */
  async remove(): Promise<boolean> {
    this.#applied = undefined;
    if (!await this.exists()) return false;
    // "add" first makes the delete succeed even if the table vanished in between.
    await this.#nft(`add table ip ${this.#table}\ndelete table ip ${this.#table}\n`);
    return true;
  }

  async #nft(script: string): Promise<void> {
    await this.#exec(["nft", "-f", "-"], {
      stdin: script,
      ...(this.#netns === undefined ? {} : { netns: this.#netns }),
    });
  }

  #run(cmd: string[]) {
    return this.#exec(cmd, this.#netns === undefined ? {} : { netns: this.#netns });
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
