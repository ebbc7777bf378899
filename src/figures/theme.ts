/** Colours and labels shared by every figure, so an aspect looks the same everywhere. */
import { ASPECTS, type Aspect } from "../data/terms.js";

/** One colour per GO aspect (colour-blind-safe Okabe–Ito hues). */
export const ASPECT_COLORS: Record<Aspect, string> = {
  biological_process: "#0072B2",
  cellular_component: "#E69F00",
  molecular_function: "#009E73",
};

/** Light tints of the aspect colours, for filled boxes that must keep dark text readable. */
export const ASPECT_TINTS: Record<Aspect, string> = {
  biological_process: "#D5E8F5",
  cellular_component: "#FBEBCB",
  molecular_function: "#CFEFE4",
};

/** The aspect colours in label order, for vega-lite scales. */
export const ASPECT_RANGE = ASPECTS.map((a) => ASPECT_COLORS[a]);
