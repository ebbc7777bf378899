/**
 * A hub on 127.0.0.1 that speaks Hugging Face's resolve URLs and can lie: each test overrides the
 * headers or body of any answer (traversal ETags and commits, odd redirects, bad sizes, chunked or
 * truncated bodies, slow bodies). Bounded: loopback only, files of a few hundred kB at most.
 */
import { createHash } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export const HUB_COMMIT = "89abcdef0123456789abcdef0123456789abcdef";

/** How one answer is sent; every field overrides what an honest hub would do. */
export interface Answer {
  /** Headers added to (or, when undefined, removed from) the honest ones. */
  headers?: Record<string, string | undefined>;
  /** The body instead of the file's bytes. */
  body?: Buffer;
  /** Send the body chunked, with no Content-Length. */
  chunked?: boolean;
  /** Send only this many bytes of the body, then drop the connection. */
  cutAt?: number;
  /** Wait this long (ms) between two halves of the body. */
  slowMs?: number;
}

export interface Seen {
  method: string;
  url: string;
  range?: string;
}

export class HostileHub {
  private server!: Server;
  readonly files = new Map<string, Buffer>();
  /** Files served as LFS: HEAD gives X-Linked-Etag (sha256) and redirects to /cdn/SHA. */
  readonly lfs = new Set<string>();
  /** Per file name: how to lie about its HEAD (resolve) answer. */
  readonly head = new Map<string, Answer>();
  /** Per file name: how to lie about its GET (body) answer. */
  readonly get = new Map<string, Answer>();
  seen: Seen[] = [];

  async start(): Promise<void> {
    this.server = createServer((q, s) => this.serve(q, s));
    await new Promise<void>((r) => this.server.listen(0, "127.0.0.1", r));
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((r) => this.server.close(r));
  }

  get endpoint(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** Forgets every lie and every request seen. */
  reset(): void {
    this.head.clear();
    this.get.clear();
    this.seen = [];
  }

  private serve(q: IncomingMessage, s: ServerResponse): void {
    this.seen.push({ method: q.method!, url: q.url!, range: q.headers.range });
    const cdn = /^\/cdn\/([0-9a-f]{64})$/.exec(q.url!);
    if (cdn) {
      const name = [...this.lfs].find((n) => sha256(this.files.get(n)!) === cdn[1]);
      if (!name) return void s.writeHead(404).end();
      this.send(q, s, name, this.files.get(name)!, {});
      return;
    }
    const m = /^\/org\/[\w-]+\/resolve\/([^/]+)\/(.+)$/.exec(q.url!);
    if (!m) return void s.writeHead(404, { "x-error-code": "RepositoryNotFound" }).end();
    const name = decodeURIComponent(m[2]!);
    const body = this.files.get(name);
    if (!body)
      return void s.writeHead(404, { "x-error-code": "EntryNotFound", "x-repo-commit": HUB_COMMIT }).end();
    const lie = (q.method === "HEAD" ? this.head : this.get).get(name) ?? {};
    if (this.lfs.has(name)) {
      const sha = sha256(body);
      const headers = clean({
        "x-repo-commit": HUB_COMMIT,
        "x-linked-etag": `"${sha}"`,
        "x-linked-size": String(body.length),
        etag: '"cdn-etag"',
        location: `${this.endpoint}/cdn/${sha}`,
        ...lie.headers,
      });
      return void s.writeHead(302, headers).end();
    }
    this.send(q, s, name, body, { "x-repo-commit": HUB_COMMIT, etag: `"${gitBlobSha1(body)}"` }, lie);
  }

  private send(
    q: IncomingMessage,
    s: ServerResponse,
    name: string,
    file: Buffer,
    base: Record<string, string>,
    lie: Answer = (q.method === "HEAD" ? this.head : this.get).get(name) ?? {},
  ): void {
    let body = lie.body ?? file;
    const r = /^bytes=(\d+)-$/.exec(q.headers.range ?? "");
    const from = r && !lie.body ? Number(r[1]) : 0;
    body = body.subarray(from);
    const headers = clean({
      ...base,
      ...(lie.chunked ? {} : { "content-length": String(body.length) }),
      ...(from ? { "content-range": `bytes ${from}-${file.length - 1}/${file.length}` } : {}),
      ...lie.headers,
    });
    s.writeHead(from ? 206 : 200, headers);
    if (q.method === "HEAD") return void s.end();
    const sent = lie.cutAt !== undefined ? body.subarray(0, lie.cutAt) : body;
    const half = sent.length >> 1;
    s.write(sent.subarray(0, half));
    setTimeout(() => {
      if (lie.cutAt !== undefined) s.write(sent.subarray(half), () => setTimeout(() => s.destroy(), 20));
      else s.end(sent.subarray(half));
    }, lie.slowMs ?? 0);
  }
}

function clean(h: Record<string, string | undefined>): Record<string, string> {
  return Object.fromEntries(Object.entries(h).filter(([, v]) => v !== undefined)) as Record<string, string>;
}

export function sha256(b: Buffer): string {
  return createHash("sha256").update(b).digest("hex");
}

/** The git blob id the hub gives small files as their ETag. */
export function gitBlobSha1(b: Buffer): string {
  return createHash("sha1").update(`blob ${b.length}\0`).update(b).digest("hex");
}
