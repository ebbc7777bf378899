import assert from "node:assert/strict";
import { test } from "node:test";
import { COMMANDS } from "../../src/cli/commands/index.js";
import { assertOneLineError, gotune, ROOT } from "../helpers/cli.js";

test("gotune --help lists every command on one line of its own, the detail under gotune CMD --help", () => {
  const r = gotune(["--help"]);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.split("\n");
  const list = lines.slice(lines.indexOf("Commands:") + 1).filter((l) => l.trim());
  // One line a command: each starts with its name, none continues the one before.
  assert.deepEqual(
    list.map((l) => l.trim().split(/\s+/)[0]),
    [...COMMANDS, "help"],
  );
  for (const l of lines) assert.ok(l.length <= 80, `${l.length} characters: ${l}`);
  assert.match(gotune(["help", "train"]).stdout, /Usage: gotune train \[options\]/);
});

test("gotune help NAME for no command says so in one line, with exit 1", () => {
  const r = gotune(["help", "nosuch"]);
  assert.equal(r.stdout, "");
  assertOneLineError(r, /unknown command 'nosuch'; gotune --help lists the commands/);
});

test("a command's --help marks required options and shows no path of this machine", () => {
  for (const c of COMMANDS) {
    const r = gotune([c, "--help"]);
    assert.equal(r.code, 0, `${c}: ${r.stderr}`);
    assert.ok(!r.stdout.includes(ROOT), `${c} --help shows ${ROOT}`);
  }
  const predict = gotune(["predict", "--help"]).stdout.replace(/\s+/g, " ");
  assert.match(predict, /--model <dir\|id> model folder .* \(required\)/);
  assert.doesNotMatch(predict, /--out <dir> [^-]*\(required\)/);
  assert.match(
    gotune(["run", "--help"]).stdout.replace(/\s+/g, " "),
    /default: examples\/abstract\.txt of gotune/,
  );
});

test("--max-length is one option with one parser in every command that reads texts", () => {
  const users = ["annotate", "attention", "eval", "predict", "pretrain", "serve", "tokenize", "train"];
  for (const c of users) {
    const r = gotune([c, "--max-length", "2"]);
    assertOneLineError(
      r,
      /option '--max-length <n>' argument '2' is invalid\. give a whole number of at least 3\./,
    );
    assert.match(
      gotune([c, "--help"]).stdout.replace(/\s+/g, " "),
      /--max-length <n> tokens per .*\[CLS\] and \[SEP\] included/,
    );
  }
});
