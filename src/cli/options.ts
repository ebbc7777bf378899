/**
 * Parsers for command-line option values, shared by every command. A bad value stops the command with
 * one line naming the option, the value and what to give instead.
 */
import { InvalidArgumentError, Option } from "commander";
import { DTYPES } from "../native/index.js";

/** A parser for whole numbers from `min` to `max`. */
export function wholeNumber(min: number, max = Number.MAX_SAFE_INTEGER): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (!/^\s*-?\d+\s*$/.test(v) || !Number.isSafeInteger(n) || n < min || n > max)
      throw new InvalidArgumentError(
        max === Number.MAX_SAFE_INTEGER
          ? `give a whole number of at least ${min}.`
          : `give a whole number from ${min} to ${max}.`,
      );
    return n;
  };
}

/** A parser for (finite) numbers from `min` to `max`; `open` excludes the bounds. */
export function realNumber(min: number, max = Number.POSITIVE_INFINITY, open = false): (v: string) => number {
  return (v) => {
    const n = Number(v);
    const inside = open ? n > min && n < max : n >= min && n <= max;
    if (v.trim() === "" || !Number.isFinite(n) || !inside) {
      const range =
        max === Number.POSITIVE_INFINITY
          ? `${open ? "above" : "of at least"} ${min}`
          : `from ${min} to ${max}`;
      throw new InvalidArgumentError(
        `give a number ${range}${open && max !== Number.POSITIVE_INFINITY ? " (exclusive)" : ""}.`,
      );
    }
    return n;
  };
}

/** A whole number of at least 1. */
export const positiveInt = wholeNumber(1);
/** A whole number of at least 0. */
export const nonNegativeInt = wholeNumber(0);
/** A number above 0. */
export const positiveNumber = realNumber(0, Number.POSITIVE_INFINITY, true);

/** A share: a number from 0 up to, but not including, 1. */
export function share(v: string): number {
  const n = Number(v);
  if (v.trim() === "" || !(n >= 0 && n < 1)) throw new InvalidArgumentError("give a number from 0 up to 1.");
  return n;
}

/** A parser for one of a fixed set of words. */
export function oneOf<T extends string>(choices: readonly T[]): (v: string) => T {
  return (v) => {
    if (!(choices as readonly string[]).includes(v))
      throw new InvalidArgumentError(`give one of ${choices.join(", ")}.`);
    return v as T;
  };
}

/** `--dtype`: the numeric format of the encoder's matrix products at inference (choices: native's DTYPES). */
export const dtypeOption = {
  flags: `--dtype <${DTYPES.join("|")}>`,
  description:
    "the encoder's matrix products in fp32; bf16 with fp32 accumulation (CPUs with AVX512-BF16 or AMX); or " +
    "int8, dynamic quantisation (CPUs with AVX2; fastest with AVX512-VNNI, AVX-VNNI or AMX). Without the CPU support, one line " +
    "says so and fp32 runs",
  parse: oneOf(DTYPES),
  default: "fp32" as const,
};

/**
 * `--max-length`, declared once for every command: tokens a text, [CLS] and [SEP] included (at least 3).
 * `what` says what a text is ("per sentence"); `fallback` is a default number, or says in words what
 * happens without the option; by default the model's own length applies (what training saved).
 */
export function maxLengthOption(what: string, fallback: number | string = MODEL_MAX_LENGTH): Option {
  const o = new Option("--max-length <n>", `tokens ${what} ([CLS] and [SEP] included)`).argParser(
    wholeNumber(3),
  );
  return typeof fallback === "number" ? o.default(fallback) : o.default(undefined, fallback);
}

const MODEL_MAX_LENGTH = "the model's own, as trained: tokenizer_config.json's model_max_length";
