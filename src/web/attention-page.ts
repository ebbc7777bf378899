/** The attention view as one self-contained HTML page: the head view script, its style and the data inline. */
import type { AttentionMap } from "../inference/attention-map.js";
import { asset, escapeHtml, scriptJson } from "./assets.js";

/** The page for one text's attention; `model` names the model in the heading. */
export function attentionPage(map: AttentionMap, model: string): string {
  const probs = Object.entries(map.probabilities)
    .map(([l, p]) => `${escapeHtml(l)} ${p.toFixed(3)}`)
    .join(" · ");
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Attention: ${escapeHtml(map.text.slice(0, 80))}</title>
<style>
body { font: 15px/1.5 system-ui, sans-serif; margin: 1.5em auto; max-width: 760px; padding: 0 1em; color: #222; }
h1 { font-size: 1.3em; margin: 0 0 0.3em; }
.meta { color: #555; margin: 0 0 1em; }
${asset("head-view.css")}
</style>
</head>
<body>
<h1>Attention of ${escapeHtml(model)}</h1>
<p class="meta">“${escapeHtml(map.text)}”<br>predicted <b>${escapeHtml(map.label)}</b> (${probs});
${map.layers} layers × ${map.heads} heads, ${map.tokens.length} tokens</p>
<div id="view"></div>
<script>${asset("head-view.js")}</script>
<script>gotuneHeadView(document.getElementById("view"), ${scriptJson(map)});</script>
</body>
</html>
`;
}
