import { describe, expect, it } from "vitest";
import type { ModuleSummary } from "../src/api";
import { mapEdges, planEdges, type Box, type EdgeGeometry, type MapEdge, type Point } from "../src/mapgraph";

/** A 4-column grid of 200×120 cards with 28 px gutters: m1..m4 in the first row, m5..m8 in the second ... */
const CARD_W = 200;
const CARD_H = 120;
const GAP = 28;

function grid(count: number): Map<string, Box> {
  const boxes = new Map<string, Box>();
  for (let i = 0; i < count; i++) {
    const left = (i % 4) * (CARD_W + GAP);
    const top = Math.floor(i / 4) * (CARD_H + GAP);
    boxes.set(`m${i + 1}`, { left, top, right: left + CARD_W, bottom: top + CARD_H });
  }
  return boxes;
}

const edge = (from: string, to: string): MapEdge => ({ from, to, state: "unlocked" });

function box(boxes: Map<string, Box>, slug: string): Box {
  const b = boxes.get(slug);
  if (!b) throw new Error(slug);
  return b;
}

function plan(boxes: Map<string, Box>, edges: MapEdge[]): EdgeGeometry[] {
  return planEdges(edges, boxes);
}

/** The geometry of the one edge `e`. */
function one(boxes: Map<string, Box>, e: MapEdge): EdgeGeometry {
  const [g] = planEdges([e], boxes);
  if (!g) throw new Error(`${e.from} → ${e.to} was not laid out`);
  return g;
}

/** Every coordinate pair of an SVG path (M, L, Q and C commands). */
function points(d: string): Point[] {
  const numbers = (d.match(/-?\d+(?:\.\d+)?/g) ?? []).map(Number);
  const out: Point[] = [];
  for (let i = 0; i + 1 < numbers.length; i += 2) out.push({ x: numbers[i] ?? 0, y: numbers[i + 1] ?? 0 });
  return out;
}

const inside = (p: Point, b: Box): boolean => p.x > b.left + 0.5 && p.x < b.right - 0.5 && p.y > b.top + 0.5 && p.y < b.bottom - 0.5;
const onTop = (p: Point, b: Box): boolean => p.y === b.top && p.x > b.left && p.x < b.right;
const onBottom = (p: Point, b: Box): boolean => p.y === b.bottom && p.x > b.left && p.x < b.right;

describe("mapEdges", () => {
  it("draws one edge per prerequisite on the map, carrying the module's state", () => {
    const module = (slug: string, prerequisites: string[], state: ModuleSummary["state"]) => ({ slug, prerequisites, state }) as ModuleSummary;
    const edges = mapEdges([module("a", [], "passed"), module("b", ["a", "gone", "b"], "unlocked"), module("c", ["a", "b"], "locked")]);
    expect(edges).toEqual([
      { from: "a", to: "b", state: "unlocked" },
      { from: "a", to: "c", state: "locked" },
      { from: "b", to: "c", state: "locked" },
    ]);
  });
});

describe("planEdges", () => {
  it("runs from the prerequisite's bottom edge to the module's top edge on the next row", () => {
    const boxes = grid(8);
    const g = one(boxes, edge("m1", "m6"));
    expect(g.kind).toBe("down");
    expect(onBottom(g.start, box(boxes, "m1"))).toBe(true);
    expect(onTop(g.end, box(boxes, "m6"))).toBe(true);
    expect(points(g.d)[0]).toEqual(g.start);
    expect(points(g.head)[0]).toEqual(g.end); // the arrowhead's tip is on the module
  });

  it("goes straight across the gap to the next card of the same row", () => {
    const boxes = grid(4);
    const g = one(boxes, edge("m1", "m2"));
    expect(g.kind).toBe("right");
    expect(g.start.x).toBe(box(boxes, "m1").right);
    expect(g.end.x).toBe(box(boxes, "m2").left);
  });

  it("dips below the row to reach a card further along it", () => {
    const boxes = grid(4);
    const g = one(boxes, edge("m1", "m3"));
    expect(g.kind).toBe("arc");
    expect(onBottom(g.start, box(boxes, "m1"))).toBe(true);
    expect(onBottom(g.end, box(boxes, "m3"))).toBe(true);
    expect(Math.max(...points(g.d).map((p) => p.y))).toBeGreaterThan(CARD_H);
  });

  it("routes several rows down through gutters only, never through a card", () => {
    const boxes = grid(12);
    const g = one(boxes, edge("m2", "m11"));
    expect(g.kind).toBe("down");
    expect(onBottom(g.start, box(boxes, "m2"))).toBe(true);
    expect(onTop(g.end, box(boxes, "m11"))).toBe(true);
    const corners = points(g.d);
    expect(corners.length).toBeGreaterThan(4);
    for (const p of corners) for (const b of boxes.values()) expect(inside(p, b)).toBe(false);
  });

  it("points up from the top edge when the prerequisite sits lower on the map", () => {
    const boxes = grid(8);
    const g = one(boxes, edge("m6", "m2"));
    expect(g.kind).toBe("up");
    expect(g.start.y).toBe(box(boxes, "m6").top);
    expect(g.end.y).toBe(box(boxes, "m2").bottom);
  });

  it("spreads edges meeting one side over its middle, in the order of their other ends", () => {
    const boxes = grid(8);
    const geometry = plan(boxes, [edge("m3", "m6"), edge("m1", "m6"), edge("m2", "m6")]);
    const ends = geometry.map((g) => ({ from: g.edge.from, x: g.end.x }));
    const target = box(boxes, "m6");
    const xs = ends.sort((a, b) => a.x - b.x);
    expect(xs.map((e) => e.from)).toEqual(["m1", "m2", "m3"]);
    expect(new Set(xs.map((e) => e.x)).size).toBe(3);
    for (const { x } of xs) {
      expect(x).toBeGreaterThanOrEqual(target.left + 0.2 * CARD_W);
      expect(x).toBeLessThanOrEqual(target.left + 0.8 * CARD_W);
    }
  });

  it("gives routes sharing a column gap lanes side by side, outside the cards", () => {
    // one column of four cards: both routes run down the outer margin, left of the column
    const boxes = new Map<string, Box>();
    for (let i = 0; i < 4; i++) boxes.set(`m${i + 1}`, { left: 0, top: i * (CARD_H + GAP), right: CARD_W, bottom: i * (CARD_H + GAP) + CARD_H });
    const geometry = plan(boxes, [edge("m1", "m3"), edge("m2", "m4")]);
    // the rounded corners' control points are the route's corners: below the start, the lane (twice), above the end
    const lanes = geometry.map((g) => [...g.d.matchAll(/Q(-?[\d.]+) (-?[\d.]+)/g)].map((m) => Number(m[1]))[1]);
    expect(lanes).toHaveLength(2);
    expect(lanes[0]).not.toBe(lanes[1]);
    for (const x of lanes) expect(x).toBeLessThan(0);
  });

  it("drops an edge whose end is not on the map", () => {
    expect(plan(grid(4), [edge("m1", "m9")])).toEqual([]);
  });
});
