/**
 * Kubernetes resource quantities (`500m`, `128Mi`, `1.5G`, `1e3`), parsed
 * exactly as Kubernetes parses them and held as an exact count of
 * nano-units, so sums and comparisons never lose precision.
 *
 * @example
 * ```ts
 * import { Quantity, toMillicores } from "./quantity.ts";
 * Quantity.parse("1024Mi").toString(); // "1Gi"
 * Quantity.parse("1.5").toString(); // "1500m"
 * toMillicores("250m"); // 250
 * ```
 *
 * @module
 */

/**
 * How a quantity prints: `DecimalSI` (`1500m`, `12M`), `BinarySI`
 * (`128Mi`) or `DecimalExponent` (`12e6`).
 */
export type QuantityFormat = "DecimalSI" | "BinarySI" | "DecimalExponent";

/** What a quantity may be written as in a manifest: a string, or a bare number. */
export type QuantityInput = string | number;

/** The regular expression Kubernetes quotes when a quantity is malformed. */
const FORMAT_MESSAGE = "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";
const SUFFIX_MESSAGE = "unable to parse quantity's suffix";
/** Longest accepted quantity string; real ones are a few characters. */
const MAX_LENGTH = 128;
/** Largest accepted decimal exponent magnitude (`1e1000`). */
const MAX_EXPONENT = 1000;

const NANO = 1_000_000_000n;
/** Kubernetes caps binary quantities at the largest int64. */
const MAX_BINARY_NANOS = ((1n << 63n) - 1n) * NANO;

const DECIMAL_SUFFIXES: ReadonlyMap<string, number> = new Map([
  ["n", -9],
  ["u", -6],
  ["m", -3],
  ["", 0],
  ["k", 3],
  ["M", 6],
  ["G", 9],
  ["T", 12],
  ["P", 15],
  ["E", 18],
]);
const BINARY_SUFFIXES: ReadonlyMap<string, number> = new Map([
  ["Ki", 10],
  ["Mi", 20],
  ["Gi", 30],
  ["Ti", 40],
  ["Pi", 50],
  ["Ei", 60],
]);
const DECIMAL_BY_EXPONENT = new Map(
  [...DECIMAL_SUFFIXES].map(([suffix, exp]) => [exp, suffix]),
);
const BINARY_BY_POWER = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"];

const SUFFIX_CHARS = "eEinumkKMGTP";

function isDigit(ch: string | undefined): boolean {
  return ch !== undefined && ch >= "0" && ch <= "9";
}

function pow10(n: number): bigint {
  return 10n ** BigInt(n);
}

/** Divides, rounding the magnitude up (away from zero); `b` is positive. */
function divCeil(a: bigint, b: bigint): bigint {
  const q = a / b;
  if (q * b === a) return q;
  return a < 0n ? q - 1n : q + 1n;
}

interface Parsed {
  nanos: bigint;
  format: QuantityFormat;
}

/** Parses like Kubernetes' ParseQuantity; returns an error detail on failure. */
function parse(str: string): Parsed | { error: string; range?: boolean } {
  if (str.length === 0) return { error: FORMAT_MESSAGE };
  if (str.length > MAX_LENGTH) {
    return { error: `must be no more than ${MAX_LENGTH} characters`, range: true };
  }
  let pos = 0;
  let negative = false;
  if (str[0] === "-" || str[0] === "+") {
    negative = str[0] === "-";
    pos++;
  }
  const numStart = pos;
  while (isDigit(str[pos])) pos++;
  const num = str.slice(numStart, pos);
  let denom = "";
  if (str[pos] === ".") {
    const denomStart = ++pos;
    while (isDigit(str[pos])) pos++;
    denom = str.slice(denomStart, pos);
  }
  // Kubernetes reads "Mi", "." or "-" as zero; a quantity needs a digit.
  if (num.length + denom.length === 0) return { error: FORMAT_MESSAGE };
  const suffixStart = pos;
  while (pos < str.length && SUFFIX_CHARS.includes(str[pos] as string)) pos++;
  if (str[pos] === "-" || str[pos] === "+") pos++;
  while (isDigit(str[pos])) pos++;
  if (pos < str.length) return { error: FORMAT_MESSAGE };
  const suffix = str.slice(suffixStart);

  let format: QuantityFormat;
  let base: 2 | 10;
  let exponent: number;
  const dec = DECIMAL_SUFFIXES.get(suffix);
  const bin = BINARY_SUFFIXES.get(suffix);
  if (dec !== undefined) {
    [format, base, exponent] = ["DecimalSI", 10, dec];
  } else if (bin !== undefined) {
    [format, base, exponent] = ["BinarySI", 2, bin];
  } else if (/^[eE][+-]?[0-9]+$/.test(suffix)) {
    exponent = Number(suffix.slice(1));
    if (Math.abs(exponent) > MAX_EXPONENT) {
      return {
        error: `exponent must be between -${MAX_EXPONENT} and ${MAX_EXPONENT}`,
        range: true,
      };
    }
    [format, base] = ["DecimalExponent", 10];
  } else {
    return { error: SUFFIX_MESSAGE };
  }

  const digits = BigInt(num + denom || "0");
  let nanos: bigint;
  if (base === 10) {
    const shift = exponent - denom.length + 9;
    nanos = shift >= 0 ? digits * pow10(shift) : divCeil(digits, pow10(-shift));
  } else {
    nanos = divCeil(digits * (1n << BigInt(exponent)) * NANO, pow10(denom.length));
    if (nanos > MAX_BINARY_NANOS) nanos = MAX_BINARY_NANOS;
    if (nanos > 0n && nanos < NANO) format = "DecimalSI";
  }
  return { nanos: negative ? -nanos : nanos, format };
}

function toText(input: unknown): string | { error: string } {
  if (typeof input === "string") return input;
  if (typeof input === "number") {
    if (!Number.isFinite(input)) return { error: "must be a finite number" };
    return String(input);
  }
  return { error: "must be a string or a number" };
}

/**
 * Why `input` is not a valid quantity, as Kubernetes words it; empty when
 * it is valid. Never throws.
 *
 * @example
 * ```ts
 * quantityErrors("1.2.3"); // ["quantities must match the regular expression '…'"]
 * quantityErrors("128Mi"); // []
 * ```
 */
export function quantityErrors(input: unknown): string[] {
  const text = toText(input);
  if (typeof text !== "string") return [text.error];
  const parsed = parse(text);
  return "error" in parsed ? [parsed.error] : [];
}

/**
 * An exact resource quantity. Immutable: arithmetic returns new values.
 * Values are rounded up to the nearest nano-unit on parse, like Kubernetes,
 * and binary-suffixed values are capped at 2^63-1, like Kubernetes.
 */
export class Quantity {
  /** The value times 10^9, exactly. */
  readonly nanos: bigint;
  /** The format used when printing. */
  readonly format: QuantityFormat;

  private constructor(nanos: bigint, format: QuantityFormat) {
    this.nanos = nanos;
    this.format = format;
  }

  /**
   * Parses a quantity string (or a bare number, as YAML gives for `cpu: 1`).
   *
   * @throws {TypeError} when the value is not a well-formed quantity
   * @throws {RangeError} when it is too long or its exponent is out of range
   */
  static parse(input: QuantityInput): Quantity {
    const text = toText(input);
    if (typeof text !== "string") {
      throw new TypeError(`Cannot parse quantity ${describe(input)}: ${text.error}`);
    }
    const parsed = parse(text);
    if ("error" in parsed) {
      const message = `Cannot parse quantity ${describe(input)}: ${parsed.error}`;
      throw parsed.range ? new RangeError(message) : new TypeError(message);
    }
    return new Quantity(parsed.nanos, parsed.format);
  }

  /** A quantity of `value` whole units (bytes, cores, …). */
  static fromValue(value: number | bigint, format: QuantityFormat = "DecimalSI"): Quantity {
    return new Quantity(toBigInt(value) * NANO, format);
  }

  /** A quantity of `value` thousandths (millicores, …). */
  static fromMillis(value: number | bigint, format: QuantityFormat = "DecimalSI"): Quantity {
    return new Quantity(toBigInt(value) * 1_000_000n, format);
  }

  /** A quantity of `value` nano-units. */
  static fromNanos(value: bigint, format: QuantityFormat = "DecimalSI"): Quantity {
    return new Quantity(value, format);
  }

  /** -1, 0 or 1 as this is less than, equal to or greater than `other`. */
  cmp(other: Quantity): -1 | 0 | 1 {
    return this.nanos < other.nanos ? -1 : this.nanos > other.nanos ? 1 : 0;
  }

  /** True when both quantities have the same value, whatever their format. */
  equals(other: Quantity): boolean {
    return this.nanos === other.nanos;
  }

  /** The sum; keeps this quantity's format unless this one is zero. */
  add(other: Quantity): Quantity {
    return new Quantity(this.nanos + other.nanos, this.#formatWith(other));
  }

  /** The difference; keeps this quantity's format unless this one is zero. */
  sub(other: Quantity): Quantity {
    return new Quantity(this.nanos - other.nanos, this.#formatWith(other));
  }

  /** The negated quantity. */
  neg(): Quantity {
    return new Quantity(-this.nanos, this.format);
  }

  /** True when the value is zero. */
  isZero(): boolean {
    return this.nanos === 0n;
  }

  /** -1, 0 or 1: the sign of the value. */
  sign(): -1 | 0 | 1 {
    return this.nanos < 0n ? -1 : this.nanos > 0n ? 1 : 0;
  }

  /** The value in whole units, rounded away from zero (Kubernetes `Value()`). */
  value(): bigint {
    return divCeil(this.nanos, NANO);
  }

  /** The value in thousandths, rounded away from zero (Kubernetes `MilliValue()`). */
  milliValue(): bigint {
    return divCeil(this.nanos, 1_000_000n);
  }

  /** An approximate floating-point value, for display and ratios. */
  toNumber(): number {
    return Number(this.nanos) / 1e9;
  }

  /** The canonical string, as Kubernetes prints it: `1500m`, `1Gi`, `1e3`. */
  toString(): string {
    if (this.nanos === 0n) return "0";
    let format = this.format;
    if (format === "BinarySI") {
      const small = this.nanos > -1024n * NANO && this.nanos < 1024n * NANO;
      if (small || this.nanos % NANO !== 0n) format = "DecimalSI";
    }
    if (format === "BinarySI") {
      let mantissa = this.nanos / NANO;
      let power = 0;
      while (power < 6 && mantissa % 1024n === 0n) {
        mantissa /= 1024n;
        power++;
      }
      return `${mantissa}${BINARY_BY_POWER[power]}`;
    }
    let mantissa = this.nanos;
    let exponent = -9;
    while (mantissa % 10n === 0n) {
      mantissa /= 10n;
      exponent++;
    }
    const excess = ((exponent % 3) + 3) % 3;
    mantissa *= pow10(excess);
    exponent -= excess;
    const suffix = format === "DecimalSI" ? DECIMAL_BY_EXPONENT.get(exponent) : undefined;
    if (suffix !== undefined) return `${mantissa}${suffix}`;
    return exponent === 0 ? `${mantissa}` : `${mantissa}e${exponent}`;
  }

  /** Serialises as the canonical string, as Kubernetes does. */
  toJSON(): string {
    return this.toString();
  }

  #formatWith(other: Quantity): QuantityFormat {
    return this.nanos === 0n ? other.format : this.format;
  }
}

function toBigInt(value: number | bigint): bigint {
  if (typeof value === "bigint") return value;
  if (!Number.isSafeInteger(value)) {
    throw new RangeError(`Cannot make a quantity of ${value}: must be a safe integer`);
  }
  return BigInt(value);
}

function describe(input: unknown): string {
  if (typeof input === "string") {
    return JSON.stringify(input.length > 64 ? `${input.slice(0, 64)}…` : input);
  }
  return typeof input === "number" ? String(input) : typeof input;
}

/** Parses `input` unless it is a {@linkcode Quantity} already. */
export function toQuantity(input: Quantity | QuantityInput): Quantity {
  return input instanceof Quantity ? input : Quantity.parse(input);
}

/** -1, 0 or 1 as `a` is less than, equal to or greater than `b`. */
export function compareQuantities(
  a: Quantity | QuantityInput,
  b: Quantity | QuantityInput,
): -1 | 0 | 1 {
  return toQuantity(a).cmp(toQuantity(b));
}

/** The canonical string of a quantity: `canonicalQuantity("1024Mi") === "1Gi"`. */
export function canonicalQuantity(input: Quantity | QuantityInput): string {
  return toQuantity(input).toString();
}

/**
 * CPU in millicores, rounded up like Kubernetes `MilliValue()`:
 * `toMillicores("0.1") === 100`, `toMillicores("0.1m") === 1`.
 */
export function toMillicores(input: Quantity | QuantityInput): number {
  return Number(toQuantity(input).milliValue());
}

/**
 * Memory or storage in bytes, rounded up like Kubernetes `Value()`:
 * `toBytes("1Gi") === 1073741824`. Precise up to 2^53; compare
 * {@linkcode Quantity} values for anything larger.
 */
export function toBytes(input: Quantity | QuantityInput): number {
  return Number(toQuantity(input).value());
}
