const history = [];            // stack of previous values, for Undo
const MAX_HISTORY = 200;
const asArr = (v) => (Array.isArray(v) ? v.slice() : []);
const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);
let last = asArr(props.value);  // last value this widget knows about

const inRange = (p) => typeof p === 'number' && p >= props.low && p <= props.high;
const isPin = (v) => v !== null && typeof v === 'object' && inRange(v.pin);
function norm(arr) {
  const a = [];
  for (let s = 0; s < Math.min(arr.length, props.steps); s++) {
    const p = arr[s];
    a.push(inRange(p) ? p : isPin(p) ? { pin: p.pin } : null);
  }
  while (a.length && a[a.length - 1] === null) a.pop();
  return a;
}
function commit(arr) {
  const a = norm(arr);
  last = a;
  props.value = a;              // must be a NEW array: the props proxy compares by reference
}
function pushHistory(v) {
  history.push(v);
  if (history.length > MAX_HISTORY) history.shift();
}

// Value set from Python (e.g. "Load scale"): remember the previous drawing for Undo.
watch('value', () => {
  const now = asArr(props.value);
  if (!same(now, last)) { pushHistory(last); last = now; }
});

// ---- drawing: pointer events (mouse, pen, touch) -----------------------
let stroke = null;
const cellFrom = (node) => (node && node.closest ? node.closest('.pr-cell') : null);

function apply(step, pitch) {
  const w = stroke.work;
  while (w.length <= step) w.push(null);
  if (stroke.mode === 'draw') w[step] = pitch;        // monophonic: replaces the column
  else if (stroke.mode === 'pin') w[step] = { pin: pitch };
  else if (w[step] === pitch || (isPin(w[step]) && w[step].pin === pitch)) w[step] = null;  // erase
}

// Pin mode: a click pins the note the continuation must pass through in that column (after the
// seed's last note: the column after it is the continuation's first note).
const pinning = () => element.classList.contains('pin-mode');

element.addEventListener('pointerdown', (e) => {
  const cell = cellFrom(e.target);
  if (!cell || (e.pointerType === 'mouse' && e.button !== 0)) return;
  e.preventDefault();
  try { cell.releasePointerCapture(e.pointerId); } catch (err) {}
  const step = +cell.dataset.step, pitch = +cell.dataset.pitch;
  const before = asArr(props.value);
  const here = before[step];
  const hit = here === pitch || (isPin(here) && here.pin === pitch);
  stroke = { id: e.pointerId, before, work: before.slice(),
             mode: hit ? 'erase' : pinning() ? 'pin' : 'draw', step, pitch };
  apply(step, pitch);
  commit(stroke.work);
});

window.addEventListener('pointermove', (e) => {
  if (!stroke || e.pointerId !== stroke.id || stroke.mode === 'pin') return;  // pins: one click each
  const cell = cellFrom(document.elementFromPoint(e.clientX, e.clientY));
  if (!cell || !element.contains(cell)) return;
  const step = +cell.dataset.step, pitch = +cell.dataset.pitch;
  if (step === stroke.step && pitch === stroke.pitch) return;
  if (stroke.mode === 'draw' && Math.abs(step - stroke.step) > 1) {
    // fast drags skip columns: fill them by linear interpolation
    const dir = step > stroke.step ? 1 : -1;
    for (let s = stroke.step + dir; s !== step; s += dir) {
      const t = (s - stroke.step) / (step - stroke.step);
      apply(s, Math.round(stroke.pitch + t * (pitch - stroke.pitch)));
    }
  }
  apply(step, pitch);
  stroke.step = step; stroke.pitch = pitch;
  commit(stroke.work);
});

const endStroke = (e) => {
  if (!stroke || e.pointerId !== stroke.id) return;
  if (!same(norm(stroke.work), norm(stroke.before))) pushHistory(norm(stroke.before));
  stroke = null;
};
window.addEventListener('pointerup', endStroke);
window.addEventListener('pointercancel', endStroke);

// ---- toolbar buttons (inside the component) -----------------------------
element.addEventListener('click', (e) => {
  const b = e.target.closest ? e.target.closest('[data-action]') : null;
  if (!b) return;
  const cur = asArr(props.value);
  if (b.dataset.action === 'clear' && cur.length) {
    pushHistory(norm(cur));
    commit([]);
  } else if (b.dataset.action === 'undo' && history.length) {
    commit(history.pop());
  } else if (b.dataset.action === 'pin') {
    element.classList.toggle('pin-mode');
    b.setAttribute('aria-pressed', String(pinning()));
  }
});
