/**
 * The module map's unlock graph: one SVG edge per (prerequisite → module) pair, drawn behind the cards.
 *
 * Design choices:
 * - The edges come from the modules' own `prerequisites` lists (the data the dashboard already has); a
 *   prerequisite that is not on the map draws nothing. Nothing about the course's shape is written here.
 * - The layer is decoration: an `aria-hidden` SVG under the cards, which keep their text (a locked card still
 *   says "unlocks after 02, 03"). It never takes pointer events.
 * - Geometry is measured from the cards' layout boxes (`offset*`, which ignore the hover lift), not derived
 *   from the CSS grid, so any column count works. A ResizeObserver on the map and on every card lays it out
 *   again, at most once per animation frame.
 * - Routing keeps the lines in the grid's gutters, so a line never seems to enter a card it does not point at.
 *   Next row: an S-curve from the prerequisite's bottom edge to the module's top edge, inside the gutter between
 *   the rows. Several rows down: an orthogonal route with rounded corners: into the gutter below the
 *   prerequisite, along the nearest column gap (or the map's outer margin), into the gutter above the module;
 *   routes sharing a column gap get lanes side by side. The next card in the same row: straight across the
 *   column gap. A card further along the same row: an arc dipping into the gutter below the row. Several edges
 *   on one side of a card get their own anchors, spread along that side in the order of their other ends, so
 *   they fan out instead of stacking. The arrowhead sits in the gap next to the module it points at.
 * - State: each edge carries its module's state (`data-state`); the stylesheet draws an edge into a locked
 *   module dashed and grey, into an open one in the accent colour, into a passed/completed one green. With
 *   many modules open the map would be a tangle of equally loud lines, so only the edges into open modules
 *   (what the learner can do next) are drawn at full strength: edges into passed/completed modules (history)
 *   and into locked ones (later) are faint.
 * - Focus: pointing at a card (or tabbing to it) brings out its own edges, in and out, and fades the rest
 *   (`is-focus` on those edges, `is-focusing` on the layer), so one module's neighbours can be read at once.
 * - Narrow screens (the phone layout, ≤ 640 px): the stylesheet hides the layer, since two columns of small
 *   cards leave no gutters to route through; then nothing is laid out and the cards' text carries the graph.
 */
import type { ModuleState, ModuleSummary } from "./api";

const SVG_NS = "http://www.w3.org/2000/svg";
/** How far an arc between two cards of one row dips below them (px); the gutter is ~28 px. */
const ARC_DIP = 26;
/** How far outside the cards the outer lanes run, the spacing of lanes in one column gap, the corner radius (px). */
const OUTER_MARGIN = 12;
const LANE_STEP = 5;
const CORNER = 8;
/** Arrowhead length and half-width (px). */
const HEAD_LENGTH = 7;
const HEAD_HALF = 4;

type Side = "top" | "bottom" | "left" | "right";

export interface Box {
  left: number;
  top: number;
  right: number;
  bottom: number;
}

export interface MapEdge {
  from: string;
  to: string;
  state: ModuleState;
}

export interface Point {
  x: number;
  y: number;
}

interface Route {
  edge: MapEdge;
  kind: "down" | "up" | "right" | "left" | "arc";
  fromSide: Side;
  toSide: Side;
}

/** The (prerequisite → module) pairs whose both ends are on the map, in map order. */
export function mapEdges(modules: ModuleSummary[]): MapEdge[] {
  const onMap = new Set(modules.map((m) => m.slug));
  return modules.flatMap((m) => m.prerequisites.filter((p) => onMap.has(p) && p !== m.slug).map((p) => ({ from: p, to: m.slug, state: m.state })));
}

function svg<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Record<string, string>): SVGElementTagNameMap[K] {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  return el;
}

function boxOf(el: HTMLElement): Box {
  return { left: el.offsetLeft, top: el.offsetTop, right: el.offsetLeft + el.offsetWidth, bottom: el.offsetTop + el.offsetHeight };
}

const centerX = (b: Box): number => (b.left + b.right) / 2;
const centerY = (b: Box): number => (b.top + b.bottom) / 2;
const sameRow = (a: Box, b: Box): boolean => a.top < b.bottom && b.top < a.bottom;

function route(edge: MapEdge, boxes: Map<string, Box>): Route | null {
  const a = boxes.get(edge.from);
  const b = boxes.get(edge.to);
  if (!a || !b) return null;
  if (b.top >= a.bottom) return { edge, kind: "down", fromSide: "bottom", toSide: "top" };
  if (b.bottom <= a.top) return { edge, kind: "up", fromSide: "top", toSide: "bottom" };
  const lo = Math.min(centerX(a), centerX(b));
  const hi = Math.max(centerX(a), centerX(b));
  const between = [...boxes.values()].some((c) => c !== a && c !== b && sameRow(c, a) && centerX(c) > lo && centerX(c) < hi);
  if (between) return { edge, kind: "arc", fromSide: "bottom", toSide: "bottom" };
  return centerX(b) >= centerX(a)
    ? { edge, kind: "right", fromSide: "right", toSide: "left" }
    : { edge, kind: "left", fromSide: "left", toSide: "right" };
}

/** Anchor points: the edges meeting one side of one card are spread along it, ordered by their other end. */
function anchors(routes: Route[], boxes: Map<string, Box>): Map<string, Point> {
  const groups = new Map<string, { key: string; other: number }[]>();
  const add = (slug: string, side: Side, key: string, otherSlug: string): void => {
    const other = boxes.get(otherSlug);
    if (!other) return;
    const id = `${side}|${slug}`; // slugs may hold any character, sides do not
    const list = groups.get(id) ?? [];
    list.push({ key, other: side === "left" || side === "right" ? centerY(other) : centerX(other) });
    groups.set(id, list);
  };
  routes.forEach((r, i) => {
    add(r.edge.from, r.fromSide, `${i}|from`, r.edge.to);
    add(r.edge.to, r.toSide, `${i}|to`, r.edge.from);
  });
  const points = new Map<string, Point>();
  for (const [id, list] of groups) {
    const cut = id.indexOf("|");
    const side = id.slice(0, cut) as Side;
    const slug = id.slice(cut + 1);
    const b = boxes.get(slug);
    if (!b) continue;
    list.sort((p, q) => p.other - q.other);
    list.forEach((item, i) => {
      const f = 0.2 + (0.6 * (i + 1)) / (list.length + 1); // the middle 60 % of the side
      const x = side === "left" ? b.left : side === "right" ? b.right : b.left + f * (b.right - b.left);
      const y = side === "top" ? b.top : side === "bottom" ? b.bottom : b.top + f * (b.bottom - b.top);
      points.set(item.key, { x, y });
    });
  }
  return points;
}

const fmt = (n: number): string => n.toFixed(1);

/** The middle of the gutter next to `y` on the side `dir` (+1 below, -1 above); null when no card is that way. */
function gutterY(boxes: Box[], y: number, dir: 1 | -1): number | null {
  const edges = dir > 0 ? boxes.map((b) => b.top).filter((t) => t >= y - 0.5) : boxes.map((b) => b.bottom).filter((b) => b <= y + 0.5);
  if (edges.length === 0) return null;
  const next = dir > 0 ? Math.min(...edges) : Math.max(...edges);
  return (y + next) / 2;
}

/** The x of every column gap (midway between neighbouring columns) and of the two outer margins. */
function gutterXs(boxes: Box[]): number[] {
  const columns = [...new Map(boxes.map((b) => [Math.round(b.left), b])).values()].sort((a, b) => a.left - b.left);
  const first = columns[0];
  const last = columns[columns.length - 1];
  if (!first || !last) return [];
  const inner = columns.slice(1).map((c, i) => ((columns[i]?.right ?? c.left) + c.left) / 2);
  return [first.left - OUTER_MARGIN, ...inner, last.right + OUTER_MARGIN];
}

/** A polyline with its corners rounded (radius at most half of either neighbouring segment). */
function rounded(points: Point[]): string {
  const [start, ...rest] = points;
  if (!start) return "";
  let d = `M${fmt(start.x)} ${fmt(start.y)}`;
  rest.forEach((corner, i) => {
    const prev = points[i] ?? corner;
    const next = rest[i + 1];
    if (!next) {
      d += `L${fmt(corner.x)} ${fmt(corner.y)}`;
      return;
    }
    const lenIn = Math.hypot(corner.x - prev.x, corner.y - prev.y);
    const lenOut = Math.hypot(next.x - corner.x, next.y - corner.y);
    const r = Math.min(CORNER, lenIn / 2, lenOut / 2);
    const a = lenIn ? r / lenIn : 0;
    const b = lenOut ? r / lenOut : 0;
    d += `L${fmt(corner.x - (corner.x - prev.x) * a)} ${fmt(corner.y - (corner.y - prev.y) * a)}`;
    d += `Q${fmt(corner.x)} ${fmt(corner.y)} ${fmt(corner.x + (next.x - corner.x) * b)} ${fmt(corner.y + (next.y - corner.y) * b)}`;
  });
  return d;
}

interface Lanes {
  /** The x of a free lane in the column gap nearest to `p` and `q`. */
  take(p: Point, q: Point): number;
}

function lanes(gutters: number[]): Lanes {
  const used = new Map<number, number>();
  return {
    take(p, q) {
      const cost = (x: number): number => Math.abs(x - p.x) + Math.abs(x - q.x);
      const gx = gutters.reduce((best, x) => (cost(x) < cost(best) ? x : best), gutters[0] ?? p.x);
      const n = used.get(gx) ?? 0;
      used.set(gx, n + 1);
      return gx + (n % 2 === 1 ? 1 : -1) * Math.ceil(n / 2) * LANE_STEP; // 0, +5, -5, +10, ...
    },
  };
}

function pathFor(kind: Route["kind"], p: Point, q: Point, boxes: Box[], free: Lanes): { d: string; dir: [number, number] } {
  if (kind === "down" || kind === "up") {
    const dir = kind === "down" ? 1 : -1;
    const y1 = gutterY(boxes, p.y, dir);
    const y2 = gutterY(boxes, q.y, dir === 1 ? -1 : 1);
    if (y1 === null || y2 === null || dir * (y2 - y1) < 1) {
      const my = (p.y + q.y) / 2; // neighbouring rows: both gutter middles are the same line
      return { d: `M${fmt(p.x)} ${fmt(p.y)}C${fmt(p.x)} ${fmt(my)} ${fmt(q.x)} ${fmt(my)} ${fmt(q.x)} ${fmt(q.y)}`, dir: [0, dir] };
    }
    const gx = free.take(p, q);
    const corners = [p, { x: p.x, y: y1 }, { x: gx, y: y1 }, { x: gx, y: y2 }, { x: q.x, y: y2 }, q];
    return { d: rounded(corners), dir: [0, dir] };
  }
  if (kind === "arc") {
    const dip = Math.max(p.y, q.y) + ARC_DIP;
    return { d: `M${fmt(p.x)} ${fmt(p.y)}C${fmt(p.x)} ${fmt(dip)} ${fmt(q.x)} ${fmt(dip)} ${fmt(q.x)} ${fmt(q.y)}`, dir: [0, -1] };
  }
  const mx = (p.x + q.x) / 2;
  return { d: `M${fmt(p.x)} ${fmt(p.y)}C${fmt(mx)} ${fmt(p.y)} ${fmt(mx)} ${fmt(q.y)} ${fmt(q.x)} ${fmt(q.y)}`, dir: [kind === "right" ? 1 : -1, 0] };
}

function head(tip: Point, [dx, dy]: [number, number]): string {
  const bx = tip.x - dx * HEAD_LENGTH;
  const by = tip.y - dy * HEAD_LENGTH;
  const f = fmt;
  return `M${f(tip.x)} ${f(tip.y)}L${f(bx - dy * HEAD_HALF)} ${f(by + dx * HEAD_HALF)}L${f(bx + dy * HEAD_HALF)} ${f(by - dx * HEAD_HALF)}Z`;
}

/** One edge laid out: its route kind, where it leaves and enters the cards, its path and its arrowhead. */
export interface EdgeGeometry {
  edge: MapEdge;
  kind: Route["kind"];
  start: Point;
  end: Point;
  d: string;
  head: string;
}

/** Route every edge between the cards' boxes (slug → layout box); edges with an end off the map are dropped. */
export function planEdges(edges: MapEdge[], boxes: Map<string, Box>): EdgeGeometry[] {
  const routes = edges.map((e) => route(e, boxes)).filter((r): r is Route => r !== null);
  const points = anchors(routes, boxes);
  const all = [...boxes.values()];
  const free = lanes(gutterXs(all));
  return routes.flatMap((r, i) => {
    const start = points.get(`${i}|from`);
    const end = points.get(`${i}|to`);
    if (!start || !end) return [];
    const { d, dir } = pathFor(r.kind, start, end, all, free);
    return [{ edge: r.edge, kind: r.kind, start, end, d, head: head(end, dir) }];
  });
}

/** Mark the edges of `slug` (in and out) as focused and the layer as focusing; null clears the focus. */
function applyFocus(layer: SVGSVGElement, slug: string | null): void {
  layer.classList.toggle("is-focusing", slug !== null);
  for (const g of layer.querySelectorAll<SVGGElement>(".map-edge")) {
    g.classList.toggle("is-focus", slug !== null && (g.dataset.from === slug || g.dataset.to === slug));
  }
}

/** Lay the edges out against the cards as they are now; a hidden layer is emptied instead. */
function layout(layer: SVGSVGElement, map: HTMLElement, edges: MapEdge[], focus: string | null): void {
  if (getComputedStyle(layer).display === "none") {
    layer.replaceChildren();
    return;
  }
  const width = map.clientWidth;
  const height = map.clientHeight;
  layer.setAttribute("width", String(width));
  layer.setAttribute("height", String(height));
  layer.setAttribute("viewBox", `0 0 ${width} ${height}`);
  const boxes = new Map<string, Box>();
  for (const card of map.querySelectorAll<HTMLElement>(".module-card[data-module]")) {
    const slug = card.dataset.module;
    if (slug) boxes.set(slug, boxOf(card));
  }
  const groups = planEdges(edges, boxes).map(({ edge, d, head }) => {
    const g = svg("g", { class: `map-edge is-${edge.state}`, "data-from": edge.from, "data-to": edge.to, "data-state": edge.state });
    g.append(svg("path", { class: "map-edge-line", d }), svg("path", { class: "map-edge-head", d: head }));
    return g;
  });
  layer.replaceChildren(...groups);
  applyFocus(layer, focus);
}

/**
 * Put the graph layer into `map` (the grid of `.module-card[data-module]`) and keep it laid out.
 * Returns the layer. The first layout runs on the frame after the map is in the document.
 */
export function drawMapGraph(map: HTMLElement, modules: ModuleSummary[]): SVGSVGElement {
  const edges = mapEdges(modules);
  const layer = svg("svg", { class: "map-graph", "aria-hidden": "true", focusable: "false", "data-testid": "map-graph" });
  map.prepend(layer);
  let frame = 0;
  let focus: string | null = null;
  const schedule = (): void => {
    if (frame) return;
    frame = requestAnimationFrame(() => {
      frame = 0;
      if (map.isConnected) layout(layer, map, edges, focus);
    });
  };
  const observer = new ResizeObserver(schedule);
  observer.observe(map);
  for (const card of map.querySelectorAll<HTMLElement>(".module-card")) {
    observer.observe(card);
    const slug = card.dataset.module ?? null;
    const enter = (): void => {
      focus = slug;
      applyFocus(layer, focus);
    };
    const leave = (): void => {
      if (focus !== slug) return;
      focus = null;
      applyFocus(layer, focus);
    };
    card.addEventListener("pointerenter", enter);
    card.addEventListener("pointerleave", leave);
    card.addEventListener("focusin", enter);
    card.addEventListener("focusout", leave);
  }
  schedule();
  return layer;
}
