/**
 * Word-level diff (longest common subsequence over words and the whitespace between them), for the
 * side-by-side view: what a reply added to or left out of the reference.
 */

export type DiffOp = "same" | "add" | "del";
export interface DiffPart {
  op: DiffOp;
  text: string;
}

function tokens(s: string): string[] {
  return s.match(/\s+|[^\s]+/g) ?? [];
}

/** Diff from `from` to `to`. Very long texts fall back to a whole-text replacement (LCS is quadratic). */
export function wordDiff(from: string, to: string, maxCells = 4_000_000): DiffPart[] {
  const a = tokens(from);
  const b = tokens(to);
  if (a.length * b.length > maxCells) {
    return [...(from ? [{ op: "del" as const, text: from }] : []), ...(to ? [{ op: "add" as const, text: to }] : [])];
  }
  const n = a.length;
  const m = b.length;
  // lcs[i][j] = LCS length of a[i..] and b[j..], in one flat array.
  const lcs = new Uint32Array((n + 1) * (m + 1));
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      lcs[i * (m + 1) + j] = a[i] === b[j] ? lcs[(i + 1) * (m + 1) + j + 1] + 1 : Math.max(lcs[(i + 1) * (m + 1) + j], lcs[i * (m + 1) + j + 1]);
    }
  }
  const out: DiffPart[] = [];
  const push = (op: DiffOp, text: string) => {
    const last = out[out.length - 1];
    if (last && last.op === op) last.text += text;
    else out.push({ op, text });
  };
  let i = 0;
  let j = 0;
  while (i < n && j < m) {
    if (a[i] === b[j]) {
      push("same", a[i]);
      i++;
      j++;
    } else if (lcs[(i + 1) * (m + 1) + j] >= lcs[i * (m + 1) + j + 1]) push("del", a[i++]);
    else push("add", b[j++]);
  }
  while (i < n) push("del", a[i++]);
  while (j < m) push("add", b[j++]);
  return groupChanges(out);
}

/**
 * Reads better as "removed phrase, added phrase" than as alternating single words: a run of changes
 * (including the whitespace or single short words that happen to match inside it) becomes one deletion
 * followed by one insertion.
 */
function groupChanges(parts: DiffPart[]): DiffPart[] {
  const out: DiffPart[] = [];
  let del = "";
  let add = "";
  const flush = () => {
    if (del) out.push({ op: "del", text: del });
    if (add) out.push({ op: "add", text: add });
    del = add = "";
  };
  parts.forEach((p, k) => {
    const inRun = del !== "" || add !== "";
    const next = parts[k + 1];
    const glue = p.op === "same" && inRun && next !== undefined && next.op !== "same" && /^\s*\S{0,3}\s*$/.test(p.text);
    if (p.op === "del") del += p.text;
    else if (p.op === "add") add += p.text;
    else if (glue) {
      del += p.text;
      add += p.text;
    } else {
      flush();
      const last = out[out.length - 1];
      if (last && last.op === "same") last.text += p.text;
      else out.push({ op: "same", text: p.text });
    }
  });
  flush();
  return out;
}
