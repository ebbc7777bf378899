/*
 * The attention head view (after bertviz's): the tokens twice, attending on the left and attended on the
 * right, a line from each to each whose opacity is the attention weight, one colour per head. A layer
 * selector; heads are toggled by clicking their swatch (double-click keeps only that head); hovering a
 * token keeps only its lines. Plain browser script, no dependencies: it defines `gotuneHeadView`.
 *
 * data: { tokens: string[], layers: n, heads: n, attention: [layer][head][from][to] }
 */
(() => {
  const SVG = "http://www.w3.org/2000/svg";
  const PALETTE = [
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
    "#393b79",
    "#ad494a",
  ];
  // Lines fainter than this are not drawn: invisible anyway, and a long sentence has heads × T² of them.
  const MIN_WEIGHT = 0.01;
  const ROW = 20;

  const headColor = (h) => PALETTE[h] ?? `hsl(${(h * 137.5) % 360}, 60%, 45%)`;

  function el(tag, attrs, parent) {
    const e = tag.startsWith("svg:")
      ? document.createElementNS(SVG, tag.slice(4))
      : document.createElement(tag);
    for (const [k, v] of Object.entries(attrs ?? {})) e.setAttribute(k, String(v));
    if (parent) parent.appendChild(e);
    return e;
  }

  /** Draws the head view of `data` into `container` (emptied first); returns { setLayer, setHeads }. */
  function gotuneHeadView(container, data, opts = {}) {
    container.replaceChildren();
    const root = el("div", { class: "hv" }, container);
    const controls = el("div", { class: "hv-controls" }, root);
    const layerLabel = el("label", {}, controls);
    layerLabel.append("Layer ");
    const select = el("select", { class: "hv-layer", "aria-label": "layer" }, layerLabel);
    for (let l = 0; l < data.layers; l++) el("option", { value: l }, select).textContent = String(l + 1);
    const heads = el("span", { class: "hv-heads" }, controls);
    heads.append(" Heads ");
    const swatches = [];
    for (let h = 0; h < data.heads; h++) {
      const s = el(
        "button",
        {
          type: "button",
          class: "hv-head",
          "data-head": h,
          title: `head ${h + 1}: click to show or hide, double-click to show only this head`,
          style: `background:${headColor(h)}`,
        },
        heads,
      );
      s.textContent = String(h + 1);
      swatches.push(s);
    }
    const all = el("button", { type: "button", class: "hv-all" }, heads);
    all.textContent = "all";
    const hint = el("div", { class: "hv-hint" }, root);
    hint.textContent = "Hover a token to see only its attention; left: attending, right: attended.";

    const T = data.tokens.length;
    const width = opts.width ?? 560;
    const leftX = Math.round(width * 0.3);
    const rightX = Math.round(width * 0.7);
    const height = T * ROW + 10;
    const svg = el("svg:svg", { class: "hv-svg", width, height, viewBox: `0 0 ${width} ${height}` }, root);
    const lines = el("svg:g", { class: "hv-lines" }, svg);
    const y = (i) => 5 + i * ROW + ROW / 2;
    const tokenText = (side, i, x, anchor) => {
      const g = el("svg:g", { class: `hv-token hv-${side}`, "data-index": i }, svg);
      const bg = el(
        "svg:rect",
        { x: anchor === "end" ? x - 120 : x, y: y(i) - ROW / 2 + 1, width: 120, height: ROW - 2 },
        g,
      );
      bg.setAttribute("class", "hv-bg");
      const t = el(
        "svg:text",
        { x: anchor === "end" ? x - 4 : x + 4, y: y(i) + 5, "text-anchor": anchor },
        g,
      );
      t.textContent = data.tokens[i];
      return g;
    };
    const left = data.tokens.map((_, i) => tokenText("left", i, leftX, "end"));
    const right = data.tokens.map((_, i) => tokenText("right", i, rightX, "start"));

    let layer = 0;
    let shown = new Set(Array.from({ length: data.heads }, (_, h) => h));
    let focus = null; // { side: "left" | "right", index }

    function draw() {
      lines.replaceChildren();
      const att = data.attention[layer];
      for (const g of [...left, ...right]) g.classList.remove("hv-focus");
      const rightWeight = new Float64Array(T);
      for (const h of shown) {
        for (let i = 0; i < T; i++) {
          if (focus?.side === "left" && focus.index !== i) continue;
          for (let j = 0; j < T; j++) {
            if (focus?.side === "right" && focus.index !== j) continue;
            const w = att[h][i][j];
            if (focus) rightWeight[focus.side === "left" ? j : i] += w / shown.size;
            if (w < MIN_WEIGHT) continue;
            el(
              "svg:line",
              {
                x1: leftX + 2,
                y1: y(i),
                x2: rightX - 2,
                y2: y(j),
                stroke: headColor(h),
                "stroke-width": 2,
                "stroke-opacity": w.toFixed(3),
                "data-head": h,
                "data-from": i,
                "data-to": j,
              },
              lines,
            );
          }
        }
      }
      for (const [k, g] of [...left, ...right].entries()) {
        const side = k < T ? "left" : "right";
        const i = k % T;
        const bg = g.querySelector("rect");
        const strength = focus && side !== focus.side ? rightWeight[i] : 0;
        bg.style.fillOpacity = String(Math.min(1, strength));
        if (focus && side === focus.side && i === focus.index) {
          g.classList.add("hv-focus");
          bg.style.fillOpacity = "";
        }
      }
      for (const s of swatches) s.classList.toggle("hv-off", !shown.has(Number(s.dataset.head)));
    }

    select.addEventListener("change", () => {
      layer = Number(select.value);
      draw();
    });
    for (const s of swatches) {
      const h = Number(s.dataset.head);
      s.addEventListener("click", () => {
        if (shown.has(h)) shown.delete(h);
        else shown.add(h);
        draw();
      });
      s.addEventListener("dblclick", () => {
        shown = new Set([h]);
        draw();
      });
    }
    all.addEventListener("click", () => {
      shown = new Set(Array.from({ length: data.heads }, (_, h) => h));
      draw();
    });
    for (const [side, groups] of [
      ["left", left],
      ["right", right],
    ])
      groups.forEach((g, index) => {
        g.addEventListener("mouseenter", () => {
          focus = { side, index };
          draw();
        });
        g.addEventListener("mouseleave", () => {
          focus = null;
          draw();
        });
      });
    draw();
    return {
      setLayer(l) {
        layer = l;
        select.value = String(l);
        draw();
      },
      setHeads(hs) {
        shown = new Set(hs);
        draw();
      },
    };
  }

  globalThis.gotuneHeadView = gotuneHeadView;
})();
