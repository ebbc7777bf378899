/**
 * `npm run bench:serve`: `gotune serve` under load on loopback. A bert-mini-shaped classifier (random
 * weights; the speed does not depend on them) is served as users start it, and autocannon sends
 * POST /predict {"inputs": one GO-like sentence} from 1, 8 and 64 concurrent clients for a fixed time
 * each. Prints requests/s, p50/p99 latency, errors and the server's peak RSS, then one JSON line.
 * `--model DIR` serves a real model instead; `--seconds N` sets the time per level (default 10).
 */
import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import autocannon from "autocannon";
import { BertTokenizer } from "../src/hf/tokenizer.js";
import { Classifier } from "../src/inference/classifier.js";
import { BertForSequenceClassification } from "../src/model/bert.js";
import { makeConfig } from "../src/model/config.js";
import { peakRssMb } from "./rss.js";

const ROOT = join(import.meta.dirname, "..", "..");
const CLI = join(ROOT, "dist", "src", "cli", "main.js");
const LABELS = ["biological_process", "cellular_component", "molecular_function"];
const SENTENCES = [
  "Catalysis of the reaction: ATP + H2O = ADP + phosphate, coupled to the transport of protons across a membrane.",
  "The process in which a protein is transported from the cytosol into the mitochondrial matrix.",
  "A membrane-bounded organelle of eukaryotic cells in which chromosomes are housed and replicated.",
  "Binding to a DNA sequence that regulates transcription.",
];

const arg = (flag: string) =>
  process.argv.includes(flag) ? process.argv[process.argv.indexOf(flag) + 1] : undefined;

async function benchModel(dir: string): Promise<void> {
  const tokenizer = await BertTokenizer.fromFolder(join(ROOT, "test", "fixtures", "hf", "tiny-bert"));
  const config = makeConfig(
    {
      vocab_size: tokenizer.vocabSize,
      id2label: Object.fromEntries(LABELS.map((l, i) => [String(i), l])),
      label2id: Object.fromEntries(LABELS.map((l, i) => [l, i])),
    },
    "bert-mini",
  );
  await new Classifier(new BertForSequenceClassification(config, { seed: 1 }), tokenizer, LABELS).save(dir);
}

function startServer(model: string): Promise<{ url: string; pid: number; stop(): void }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, "serve", "--model", model, "--port", "0"], { stdio: "pipe" });
    let out = "";
    child.stdout.on("data", (d) => {
      out += d;
      const m = out.match(/at (http:\/\/\S+)\/ /);
      if (m) resolve({ url: m[1]!, pid: child.pid!, stop: () => child.kill("SIGTERM") });
    });
    child.on("exit", (code) => reject(new Error(`gotune serve exited with ${code}`)));
  });
}

async function main(): Promise<void> {
  const seconds = Number(arg("--seconds") ?? 10);
  const tmp = await mkdtemp(join(tmpdir(), "gotune-bench-serve-"));
  try {
    const model = arg("--model") ?? join(tmp, "model");
    if (!arg("--model")) await benchModel(model);
    const server = await startServer(model);
    const results: Record<string, number>[] = [];
    try {
      const load1 = loadavg()[0]!;
      process.stdout.write(
        `gotune serve on ${cpus().length} × ${cpus()[0]?.model}; model ${arg("--model") ?? "bert-mini shape (4 × 256)"}; ` +
          `${seconds} s a level; load average ${load1.toFixed(1)}\n` +
          "clients  requests/s  p50 ms  p99 ms  errors  non-2xx  server peak RSS MB\n",
      );
      let i = 0;
      for (const connections of [1, 8, 64]) {
        const r = await autocannon({
          url: `${server.url}/predict`,
          method: "POST",
          headers: { "content-type": "application/json" },
          // Each client cycles through the sentences.
          requests: SENTENCES.map((s) => ({ body: JSON.stringify({ inputs: s }) })),
          connections,
          duration: seconds,
        });
        const row = {
          clients: connections,
          requests_per_s: r.requests.average,
          p50_ms: r.latency.p50,
          p99_ms: r.latency.p99,
          errors: r.errors + r.timeouts,
          non2xx: r.non2xx,
          peak_rss_mb: peakRssMb(server.pid),
        };
        results.push(row);
        process.stdout.write(
          `${String(connections).padStart(7)}  ${row.requests_per_s.toFixed(1).padStart(10)}  ` +
            `${String(row.p50_ms).padStart(6)}  ${String(row.p99_ms).padStart(6)}  ${String(row.errors).padStart(6)}  ` +
            `${String(row.non2xx).padStart(7)}  ${row.peak_rss_mb.toFixed(0).padStart(18)}\n`,
        );
        i++;
      }
      process.stdout.write(`${JSON.stringify({ serve: results, loadavg: loadavg(), levels: i })}\n`);
    } finally {
      server.stop();
    }
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

await main();
