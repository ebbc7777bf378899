/** `gotune fetch-go`: get a Gene Ontology release into the cache and say where it came from. */
import type { Command } from "commander";
import { DEBIAN_GO, fetchGo, GO_SOURCES, type GoSource, OFFICIAL_GO_URL } from "../../data/fetch-go.js";
import { runCommand, UserError } from "../../util/errors.js";

interface Options {
  obo?: string;
  source: string;
  url?: string;
  json?: boolean;
}

/** Adds the fetch-go command. */
export function register(program: Command): void {
  program
    .command("fetch-go")
    .summary("Get a Gene Ontology release (OBO) and print where it is")
    .description(
      "Get a Gene Ontology release (OBO) and print its path, source and data-version. Sources, in order: " +
        "--obo PATH|URL; the copy already cached; the official go-basic.obo; offline, the GO release of " +
        `2018-03-09 from Debian's ${DEBIAN_GO.package} ${DEBIAN_GO.version} (apt-get download, nothing installed).`,
    )
    .option("--obo <path|url>", "use this OBO file, or download this URL into the cache")
    .option("--source <source>", `where to look: ${GO_SOURCES.join(", ")}`, "auto")
    .option("--url <url>", `the URL of the url source (default ${OFFICIAL_GO_URL})`)
    .option("--json", "print one JSON object instead of lines")
    .action((opts: Options) =>
      runCommand(async () => {
        if (!(GO_SOURCES as readonly string[]).includes(opts.source)) {
          throw new UserError(`--source ${opts.source} is not a source`, {
            hint: `use one of ${GO_SOURCES.join(", ")}`,
          });
        }
        const r = await fetchGo({ obo: opts.obo, source: opts.source as GoSource, url: opts.url });
        for (const note of r.notes) process.stderr.write(`gotune: ${note}\n`);
        if (opts.json) {
          process.stdout.write(`${JSON.stringify(r)}\n`);
          return;
        }
        const lines = [
          `path: ${r.path}`,
          `source: ${r.source}${r.origin && r.origin !== r.path ? ` (${r.origin})` : ""}`,
          `data-version: ${r.dataVersion ?? "(none in the header)"}`,
          `sha256: ${r.sha256}`,
        ];
        if (r.terms !== undefined) lines.push(`terms: ${r.terms}`);
        process.stdout.write(`${lines.join("\n")}\n`);
      }),
    );
}
