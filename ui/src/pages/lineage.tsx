// A model version's lineage as a layered graph, drawn as plain SVG: datasets, then the run,
// the logged model, the version, and the deployments serving it, left to right.
import { href } from "../router";

export type GraphNode = { id: string; kind: string; label: string; attrs?: Record<string, string> };
export type GraphEdge = { from: string; to: string; kind: string; label?: string };
export type Graph = { nodes: GraphNode[]; edges: GraphEdge[] };

const LAYER: Record<string, number> = { dataset_version: 0, dataset: 0, run: 1, logged_model: 2, model_version: 3, deployment: 4 };
const KIND: Record<string, string> = {
  dataset_version: "dataset version", dataset: "dataset", run: "run", logged_model: "logged model", model_version: "model version", deployment: "deployment",
};
const W = 190, H = 46, GAP_X = 70, GAP_Y = 22, PAD = 12;

function link(n: GraphNode): string | undefined {
  const a = n.attrs ?? {};
  if (n.kind === "run" && a.run_id) return href("experiments", a.experiment_id ?? "0", "runs", a.run_id);
  if (n.kind === "deployment" && a.name) return href("deployments", a.name);
  if (n.kind === "model_version" && a.name) return href("models", a.name, "versions", a.version);
  return undefined;
}

function short(s: string, n = 24): string {
  return s.length > n ? s.slice(0, n - 1) + "…" : s;
}

export function LineageGraph({ graph }: { graph: Graph }) {
  const layers: GraphNode[][] = [];
  for (const n of graph.nodes) {
    const l = LAYER[n.kind] ?? 2;
    (layers[l] ??= []).push(n);
  }
  const used = layers.map((l, i) => (l ? i : -1)).filter((i) => i >= 0);
  const pos = new Map<string, { x: number; y: number }>();
  const tallest = Math.max(1, ...used.map((i) => layers[i].length));
  const height = PAD * 2 + tallest * H + (tallest - 1) * GAP_Y;
  used.forEach((layer, col) => {
    const nodes = layers[layer];
    const span = nodes.length * H + (nodes.length - 1) * GAP_Y;
    nodes.forEach((n, row) => pos.set(n.id, { x: PAD + col * (W + GAP_X), y: (height - span) / 2 + row * (H + GAP_Y) }));
  });
  const width = PAD * 2 + used.length * W + Math.max(0, used.length - 1) * GAP_X;
  const described = graph.nodes.map((n) => `${KIND[n.kind] ?? n.kind} ${n.label}`).join(", ");
  return (
    <figure class="lineage">
      <svg viewBox={`0 0 ${width} ${height}`} width={width} height={height} role="img" aria-label={`Lineage: ${described}`}>
        <defs>
          <marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
            <path d="M 0 0 L 10 5 L 0 10 z" class="arrowhead" />
          </marker>
        </defs>
        {graph.edges.map((e, i) => {
          const a = pos.get(e.from), b = pos.get(e.to);
          if (!a || !b) return null;
          const x1 = a.x + W, y1 = a.y + H / 2, x2 = b.x, y2 = b.y + H / 2, mx = (x1 + x2) / 2;
          return (
            <g key={i} class="edge" data-from={e.from} data-to={e.to}>
              <path d={`M ${x1} ${y1} C ${mx} ${y1}, ${mx} ${y2}, ${x2} ${y2}`} marker-end="url(#arrow)" />
              <text x={mx} y={(y1 + y2) / 2 - 5} text-anchor="middle">{e.label || e.kind}</text>
            </g>
          );
        })}
        {graph.nodes.map((n) => {
          const p = pos.get(n.id)!;
          return (
            <g key={n.id} class={`node node-${n.kind}`} data-id={n.id} data-kind={n.kind} transform={`translate(${p.x} ${p.y})`}>
              <title>{`${KIND[n.kind] ?? n.kind}: ${n.label}`}</title>
              <rect width={W} height={H} rx="6" />
              <text x="10" y="18" class="kind">{KIND[n.kind] ?? n.kind}</text>
              <text x="10" y="36" class="label">{short(n.label)}</text>
            </g>
          );
        })}
      </svg>
      <figcaption>
        <ul class="lineage-list">
          {graph.nodes.map((n) => {
            const to = link(n);
            return (
              <li key={n.id}>
                <span class="muted">{KIND[n.kind] ?? n.kind}:</span> {to ? <a href={to}>{n.label}</a> : n.label}
                {n.attrs?.digest && <> <code class="digest">{n.attrs.digest}</code></>}
                {n.attrs?.state && <> ({n.attrs.state})</>}
              </li>
            );
          })}
        </ul>
      </figcaption>
    </figure>
  );
}
