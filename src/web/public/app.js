/*
 * gotune serve's page: paste a text or drop a .txt file, see each sentence highlighted by its predicted
 * GO aspect with probability bars, the pie of the mean, the table as CSV or XLSX, and on a click the
 * attention view of that sentence. Plain browser script over the server's JSON API; no dependencies.
 */
(() => {
  const $ = (id) => document.getElementById(id);
  const text = $("text");
  const status = $("status");
  let info = null;
  let lastText = "";
  let lastName = "";
  // Aspect names shown without underscores.
  const nice = (label) => label.replace(/_/g, " ");

  function say(message, isError = false) {
    status.textContent = message;
    status.classList.toggle("error", isError);
  }

  async function api(path, body) {
    const r = await fetch(path, {
      method: body === undefined ? "GET" : "POST",
      headers: body === undefined ? {} : { "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (!r.ok) {
      let message = `${r.status} ${r.statusText}`;
      try {
        message = (await r.json()).error ?? message;
      } catch {}
      throw new Error(message);
    }
    return r;
  }

  function tint(color, alpha) {
    const n = Number.parseInt(color.slice(1), 16);
    return `rgba(${n >> 16}, ${(n >> 8) & 255}, ${n & 255}, ${alpha})`;
  }

  function drawPie(mean) {
    const svg = $("pie");
    svg.replaceChildren();
    let angle = -Math.PI / 2;
    for (const label of info.labels) {
      const share = mean[label];
      const color = info.colors[label];
      const path = document.createElementNS(
        "http://www.w3.org/2000/svg",
        share >= 0.9999 ? "circle" : "path",
      );
      if (share >= 0.9999) path.setAttribute("r", "1");
      else {
        const a2 = angle + share * 2 * Math.PI;
        const large = share > 0.5 ? 1 : 0;
        path.setAttribute(
          "d",
          `M0 0 L${Math.cos(angle)} ${Math.sin(angle)} A1 1 0 ${large} 1 ${Math.cos(a2)} ${Math.sin(a2)} Z`,
        );
        angle = a2;
      }
      path.setAttribute("fill", color);
      path.setAttribute("stroke", "#fff");
      path.setAttribute("stroke-width", "0.01");
      path.setAttribute("class", "slice");
      path.dataset.label = label;
      path.dataset.share = String(share);
      const title = document.createElementNS("http://www.w3.org/2000/svg", "title");
      title.textContent = `${nice(label)}: ${(share * 100).toFixed(1)}%`;
      path.appendChild(title);
      svg.appendChild(path);
    }
    const legend = $("legend");
    legend.replaceChildren();
    for (const label of info.labels) {
      const li = document.createElement("li");
      li.dataset.label = label;
      const sw = document.createElement("span");
      sw.className = "swatch";
      sw.style.background = info.colors[label];
      li.append(sw, `${nice(label)}: ${(mean[label] * 100).toFixed(1)}%`);
      legend.appendChild(li);
    }
  }

  function bars(probabilities) {
    const box = document.createElement("div");
    box.className = "bars";
    for (const label of info.labels) {
      const p = probabilities[label];
      const row = document.createElement("div");
      row.className = "bar";
      const name = document.createElement("span");
      name.textContent = nice(label);
      const track = document.createElement("span");
      track.className = "track";
      const fill = document.createElement("span");
      fill.className = "fill";
      fill.style.display = "block";
      fill.style.width = `${(p * 100).toFixed(1)}%`;
      fill.style.background = info.colors[label];
      track.appendChild(fill);
      const pct = document.createElement("span");
      pct.className = "pct";
      pct.textContent = `${Math.round(p * 100)}%`;
      row.append(name, track, pct);
      box.appendChild(row);
    }
    return box;
  }

  function drawSentences(doc) {
    const list = $("sentences");
    list.replaceChildren();
    let paragraph = 1; // the server numbers paragraphs from 1
    doc.sentences.forEach((s, i) => {
      const li = document.createElement("li");
      li.tabIndex = 0;
      li.dataset.index = String(i);
      li.dataset.label = s.label;
      li.title = `${nice(s.label)} (${(s.probabilities[s.label] * 100).toFixed(1)}%): click for the attention view`;
      if (s.paragraph !== paragraph) li.classList.add("new-paragraph");
      paragraph = s.paragraph;
      li.style.borderLeftColor = info.colors[s.label];
      li.style.background = tint(info.colors[s.label], 0.16);
      const t = document.createElement("span");
      t.className = "text";
      t.textContent = s.text;
      li.append(t, bars(s.probabilities));
      const open = () => showAttention(s.text, li);
      li.addEventListener("click", open);
      li.addEventListener("keydown", (e) => {
        if (e.key === "Enter" || e.key === " ") {
          e.preventDefault();
          open();
        }
      });
      list.appendChild(li);
    });
  }

  async function classify() {
    const value = text.value;
    if (value.trim() === "") {
      say("Paste a text or drop a .txt file first.", true);
      return;
    }
    say("Classifying…");
    try {
      const started = performance.now();
      const doc = await (await api("/document", { text: value, name: lastName || undefined })).json();
      lastText = value;
      drawPie(doc.mean);
      drawSentences(doc);
      $("results").hidden = false;
      $("attention").hidden = true;
      const n = doc.sentences.length;
      say(`${n} sentence${n === 1 ? "" : "s"} in ${Math.round(performance.now() - started)} ms.`);
    } catch (e) {
      say(e.message, true);
    }
  }

  async function showAttention(sentence, li) {
    for (const x of document.querySelectorAll("#sentences li.selected")) x.classList.remove("selected");
    li.classList.add("selected");
    say("Computing the attention…");
    try {
      const map = await (await api("/attention", { text: sentence })).json();
      $("att-text").textContent = `“${sentence}” — predicted ${nice(map.label)}`;
      $("attention").hidden = false;
      globalThis.gotuneHeadView($("att-view"), map);
      $("attention").scrollIntoView({ behavior: "smooth", block: "start" });
      say(`Attention: ${map.tokens.length} tokens, ${map.layers} layers × ${map.heads} heads.`);
    } catch (e) {
      say(e.message, true);
    }
  }

  async function download(format) {
    try {
      const r = await api(`/document?format=${format}`, { text: lastText, name: lastName || undefined });
      const url = URL.createObjectURL(await r.blob());
      const a = document.createElement("a");
      a.href = url;
      a.download = `${(lastName || "document").replace(/\.[^.]*$/, "")}.predictions.${format}`;
      document.body.appendChild(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
    } catch (e) {
      say(e.message, true);
    }
  }

  /** Reads a dropped or chosen file; an empty or binary file is said on the page, not sent. */
  async function readFile(file) {
    if (file.size === 0) return say(`${file.name} is empty: give a text file with sentences.`, true);
    if (file.size > info.limits.characters_per_document * 4)
      return say(`${file.name} is too large (${file.size} bytes) for this server.`, true);
    const bytes = new Uint8Array(await file.arrayBuffer());
    let content;
    try {
      if (bytes.subarray(0, 8192).includes(0)) throw new Error("NUL");
      content = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
    } catch {
      return say(`${file.name} is not a text file (binary, or not UTF-8): give a plain .txt file.`, true);
    }
    if (content.trim() === "")
      return say(`${file.name} holds only blank space: give a text with sentences.`, true);
    text.value = content;
    lastName = file.name;
    await classify();
  }

  text.addEventListener("dragover", (e) => {
    e.preventDefault();
    text.classList.add("drop");
  });
  text.addEventListener("dragleave", () => text.classList.remove("drop"));
  text.addEventListener("drop", (e) => {
    e.preventDefault();
    text.classList.remove("drop");
    const file = e.dataTransfer?.files?.[0];
    if (file) void readFile(file);
  });
  text.addEventListener("input", () => {
    lastName = "";
  });
  $("file").addEventListener("change", (e) => {
    const file = e.target.files?.[0];
    if (file) void readFile(file);
    e.target.value = "";
  });
  $("run").addEventListener("click", () => void classify());
  text.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) void classify();
  });
  $("csv").addEventListener("click", () => void download("csv"));
  $("xlsx").addEventListener("click", () => void download("xlsx"));

  api("/info")
    .then((r) => r.json())
    .then((i) => {
      info = i;
      $("model").textContent = `Model: ${i.model} (${i.layers} layers, ${i.labels.length} labels)`;
      document.body.dataset.ready = "1";
    })
    .catch((e) => say(`The server does not answer: ${e.message}`, true));
})();
