import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { PytorchCheckpoint, readPytorchCheckpoint } from "../../src/hf/pickle.js";
import { UserError } from "../../src/util/errors.js";

// Debian's PyTorch lives with /usr/bin/python3, not with the pyenv python3 first on PATH.
const PY = "/usr/bin/python3";
let dir = "";

function torch(script: string): void {
  execFileSync(PY, ["-c", `import torch, collections, json, os\n${script}`], { cwd: dir, stdio: "pipe" });
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "gotune-pt-"));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

test("reads f32/f16/bf16/f64/int tensors, views and strided tensors as PyTorch sees them", async () => {
  torch(`
torch.manual_seed(0)
base = torch.randn(4, 6)
sd = collections.OrderedDict()
sd["enc.weight"] = base
sd["enc.view"] = base[:, 1:5:2]
sd["enc.t"] = base.t()
sd["half"] = torch.randn(3, 2).half()
sd["bf"] = torch.randn(5).bfloat16()
sd["dbl"] = torch.randn(2, 2).double()
sd["embeddings.position_ids"] = torch.arange(7).unsqueeze(0)
sd["scalar"] = torch.tensor(-1.75)
sd["expanded"] = torch.randn(3, 1).expand(3, 4)
sd._metadata = collections.OrderedDict([("", {"version": 1})])
torch.save(sd, "model.bin")
ref = {k: {"shape": list(v.shape), "data": v.float().contiguous().flatten().tolist(), "dtype": str(v.dtype)} for k, v in sd.items()}
json.dump(ref, open("model.json", "w"))
`);
  const ref = JSON.parse(await readFile(join(dir, "model.json"), "utf8")) as Record<
    string,
    { shape: number[]; data: number[]; dtype: string }
  >;
  const got = await readPytorchCheckpoint(join(dir, "model.bin"));
  assert.deepEqual([...got.keys()], Object.keys(ref));
  const dtypes: Record<string, string> = {
    "torch.float32": "F32",
    "torch.float16": "F16",
    "torch.bfloat16": "BF16",
    "torch.float64": "F64",
    "torch.int64": "I64",
  };
  for (const [name, r] of Object.entries(ref)) {
    const t = got.get(name)!;
    assert.deepEqual(t.shape, r.shape, name);
    assert.equal(t.dtype, dtypes[r.dtype], name);
    assert.deepEqual(Array.from(t.data), Array.from(Float32Array.from(r.data)), name);
  }
  const src = await PytorchCheckpoint.open(join(dir, "model.bin"));
  assert.deepEqual(src.info("enc.view"), { dtype: "F32", shape: [4, 2] });
  const out = new Float32Array(8);
  await src.readF32("enc.view", out);
  assert.deepEqual(Array.from(out), Array.from(Float32Array.from(ref["enc.view"]!.data)));
  await src.close();
});

test("a pickle that calls os.system is refused before anything runs", async () => {
  const marker = join(dir, "pwned");
  torch(`
class Evil:
    def __reduce__(self):
        return (os.system, ("touch ${marker}",))
torch.save({"w": torch.zeros(2), "x": Evil()}, "evil.bin")
`);
  assert.equal(existsSync(marker), false);
  await assert.rejects(
    readPytorchCheckpoint(join(dir, "evil.bin")),
    (e: unknown) =>
      e instanceof UserError && /(posix|os)\.system/.test(e.message) && /refused/.test(e.message),
  );
  assert.equal(existsSync(marker), false, "the payload must never run");
});

test("builtins.eval and other globals are refused too", async () => {
  torch(`
class Evil:
    def __reduce__(self):
        return (eval, ("1+1",))
torch.save(collections.OrderedDict([("w", torch.zeros(2)), ("e", Evil())]), "eval.bin")
`);
  await assert.rejects(
    readPytorchCheckpoint(join(dir, "eval.bin")),
    (e: unknown) => e instanceof UserError && /(__builtin__|builtins)\.eval/.test(e.message),
  );
});

test("a truncated checkpoint, a legacy one and a non-checkpoint: one clear UserError each", async () => {
  torch(`torch.save({"w": torch.randn(64, 64)}, "ok.bin")
torch.save({"w": torch.randn(2)}, "legacy.bin", _use_new_zipfile_serialization=False)`);
  const whole = await readFile(join(dir, "ok.bin"));
  await writeFile(join(dir, "cut.bin"), whole.subarray(0, Math.floor(whole.length / 2)));
  await assert.rejects(readPytorchCheckpoint(join(dir, "cut.bin")), UserError);
  await assert.rejects(
    readPytorchCheckpoint(join(dir, "legacy.bin")),
    (e: unknown) => e instanceof UserError && /legacy/.test(e.message),
  );
  await writeFile(join(dir, "text.bin"), "hello, this is not a zip");
  await assert.rejects(
    readPytorchCheckpoint(join(dir, "text.bin")),
    (e: unknown) => e instanceof UserError && /not a PyTorch checkpoint/.test(e.message),
  );
});
