const history = [];            // stack of previous values, for Undo
const MAX_HISTORY = 200;
const MAX_STEPS = props.longest;  // the longest note the model knows, in sixteenths (its encoding's)
const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);
const inRange = (p) => typeof p === 'number' && p >= props.low && p <= props.high;
const isPin = (v) => v !== null && typeof v === 'object' && inRange(v.pin);
const isLong = (v) => v !== null && typeof v === 'object' && inRange(v.note);
const pitchOf = (v) => (inRange(v) ? v : isLong(v) ? v.note : null);      // a note starting here, or null
const lengthOf = (v) => (isLong(v) && Number.isInteger(v.len) && v.len > 1 ? v.len : 1);
// The value: {unit: sixteenths per column (2: eighths, 1: sixteenths), cells: one entry per column}.
// A cell is null (nothing starts there), a pitch (a note one column long), {note, len} or {pin}.
// A value may also carry its meter, [beats, beat] (4/4 without one).
const meterOf = (v) => (v && Array.isArray(v.meter) && v.meter.length === 2 ? { meter: v.meter.slice() } : {});
function asValue(v) {
  if (Array.isArray(v)) return { unit: 2, cells: v.slice() };
  if (v && typeof v === 'object' && Array.isArray(v.cells)) return { unit: v.unit === 1 ? 1 : 2, cells: v.cells.slice(), ...meterOf(v) };
  return { unit: 2, cells: [] };
}
const maxColumns = (unit) => MAX_STEPS / unit;
function norm(v) {            // valid cells only, notes cut where the next one starts, no trailing nulls
  const { unit } = v, cells = [], meter = meterOf(v);
  for (let s = 0; s < Math.min(v.cells.length, props.steps); s++) {
    const c = v.cells[s];
    cells.push(inRange(c) ? c : isLong(c) ? { note: c.note, len: Math.min(lengthOf(c), maxColumns(unit)) }
                : isPin(c) ? { pin: c.pin } : null);
  }
  let next = props.steps;        // where the next note (or pin) starts: a note lasts at most until then
  for (let s = cells.length - 1; s >= 0; s--) {
    if (pitchOf(cells[s]) === null) { if (isPin(cells[s])) next = s; continue; }
    const len = Math.min(lengthOf(cells[s]), next - s);
    cells[s] = len > 1 ? { note: pitchOf(cells[s]), len } : pitchOf(cells[s]);
    next = s;
  }
  while (cells.length && cells[cells.length - 1] === null) cells.pop();
  return { unit, cells, ...meter };
}
function noteAt(cells, step) {  // the note sounding in column ``step``: {start, pitch, len}, or null
  for (let s = step; s >= 0 && s > step - MAX_STEPS; s--) {
    const p = pitchOf(cells[s]);
    if (p !== null) return s + lengthOf(cells[s]) > step ? { start: s, pitch: p, len: lengthOf(cells[s]) } : null;
  }
  return null;
}
function endOf(cells) {         // the column after the last note's end
  let end = 0;
  cells.forEach((c, s) => { if (pitchOf(c) !== null) end = Math.max(end, s + lengthOf(c)); });
  return end;
}
function place(cells, start, pitch, len) {  // a note from ``start``, ``len`` columns: what it covers goes
  while (cells.length <= start + len) cells.push(null);
  const before = noteAt(cells, start);
  if (before && before.start < start) cells[before.start] = shorter(before.pitch, start - before.start);
  for (let s = start + 1; s < start + len; s++) cells[s] = null;
  cells[start] = shorter(pitch, len);
}
const shorter = (pitch, len) => (len > 1 ? { note: pitch, len } : pitch);
let last = norm(asValue(props.value));  // last value this widget knows about
const current = () => norm(asValue(props.value));
function commit(v) {
  const a = norm(v);
  last = a;
  props.value = a;              // must be a NEW object: the props proxy compares by reference
  publish();
  setTimeout(() => trigger('input'), 0);  // the user's edit (a value set from Python is not one)
}
function pushHistory(v) {
  history.push(v);
  if (history.length > MAX_HISTORY) history.shift();
}

// Snap to scale: drawn notes move to the nearest note of the chosen scale (one semitone up).
const SCALES = { major: [0, 2, 4, 5, 7, 9, 11], minor: [0, 2, 3, 5, 7, 8, 10] };
let snap = null;                // {tonic, mode} or null
const inScale = (p) => !snap || SCALES[snap.mode].includes(((p - snap.tonic) % 12 + 12) % 12);
const snapped = (p) => (inScale(p) ? p : inScale(p + 1) && p + 1 <= props.high ? p + 1 : p - 1);
function markScale() {
  element.querySelectorAll('.pr-row').forEach((row) => row.classList.toggle('off-scale', !inScale(+row.dataset.pitch)));
}

// Value set from Python (e.g. "Load scale"): remember the previous drawing for Undo.
watch('value', () => {
  const now = current();
  if (!same(now, last)) { pushHistory(last); last = now; }
  publish();
});

// The grid's notes for other tools: data-notes on the component's box (#grid), [[onset, length, pitch, role], ...]
// (16th steps from the grid's start, MIDI pitch, role "seed"), after every change.
function notesOf(v) {
  const notes = [];
  v.cells.forEach((c, s) => {
    const pitch = pitchOf(c);
    if (pitch !== null) notes.push([s * v.unit, lengthOf(c) * v.unit, pitch, 'seed']);
  });
  return notes;
}
const host = element.closest('.block') || element;  // the component's box: #grid on the page
function publish() { host.dataset.notes = JSON.stringify(notesOf(current())); }
publish();

// ---- sound under your fingers: every pitch's sample, played by the browser itself -----------
let audio = null;
const buffers = {};
function loadSamples() {
  const Context = window.AudioContext || window.webkitAudioContext;
  if (audio || !props.samples || !Context) return;
  audio = new Context({ latencyHint: 'interactive' });
  for (let p = props.low; p <= props.high; p++) {
    fetch(`${props.samples}/p${p}.wav`).then((r) => (r.ok ? r.arrayBuffer() : Promise.reject(r.status)))
      .then((data) => audio.decodeAudioData(data)).then((buffer) => { buffers[p] = buffer; }).catch(() => {});
  }
}
function sound(pitch, since) {
  if (!audio) return;
  if (audio.state === 'suspended') audio.resume();
  const buffer = buffers[pitch];
  if (!buffer) return;
  const source = audio.createBufferSource();
  source.buffer = buffer;
  source.connect(audio.destination);
  source.start();
  // How long from the click to the sound leaving for the speakers, for bench/page.py.
  const latency = performance.now() - since + 1000 * (audio.baseLatency || 0);
  element.dataset.soundMs = latency.toFixed(2);
}
loadSamples();

// ---- drawing: pointer events (mouse, pen, touch) -----------------------
// A click on an empty cell places a note one column long; dragging along its row lengthens it, and
// into another row draws the next note there. A click on a note removes it; dragging from it along
// its row makes it longer or shorter. Pin mode: a click pins the note the continuation must pass
// through in that column (after the seed's last note: the column after it is the continuation's first).
let stroke = null;
const cellFrom = (node) => (node && node.closest ? node.closest('.pr-cell') : null);
const pinning = () => element.classList.contains('pin-mode');

element.addEventListener('pointerdown', (e) => {
  const cell = cellFrom(e.target);
  if (!cell || (e.pointerType === 'mouse' && e.button !== 0)) return;
  // On a touch screen a finger scrolls the page and the grid; it draws only in drawing mode.
  if (e.pointerType === 'touch' && !element.classList.contains('draw-mode')) return;
  e.preventDefault();
  try { cell.releasePointerCapture(e.pointerId); } catch (err) {}
  const step = +cell.dataset.step, pitch = +cell.dataset.pitch;
  const before = current(), work = { ...before, cells: before.cells.slice() };
  const note = noteAt(work.cells, step), here = work.cells[step];
  stroke = { id: e.pointerId, before, work, step, pitch, moved: false };
  if (isPin(here) && here.pin === pitch) {
    stroke.mode = 'erase';
    work.cells[step] = null;
  } else if (note && note.pitch === pitch) {
    stroke.mode = 'resize';     // a click removes it (on release), a drag along the row resizes it
    stroke.start = note.start;
  } else if (pinning()) {
    stroke.mode = 'pin';
    while (work.cells.length <= step) work.cells.push(null);
    if (note) place(work.cells, note.start, note.pitch, step - note.start);  // cut what sounds there
    work.cells[step] = { pin: pitch };
  } else {
    stroke.mode = 'draw';
    stroke.pitch = snapped(pitch);
    stroke.start = step;
    place(work.cells, step, stroke.pitch, 1);
    sound(stroke.pitch, e.timeStamp);
  }
  commit(work);
});

window.addEventListener('pointermove', (e) => {
  if (!stroke || e.pointerId !== stroke.id || stroke.mode === 'pin' || stroke.mode === 'erase') return;
  const cell = cellFrom(document.elementFromPoint(e.clientX, e.clientY));
  if (!cell || !element.contains(cell)) return;
  const step = +cell.dataset.step, pitch = +cell.dataset.pitch;
  if (step === stroke.step && (stroke.mode === 'resize' || snapped(pitch) === stroke.pitch)) return;
  const cells = stroke.work.cells, longest = maxColumns(stroke.work.unit);
  if (stroke.mode === 'resize' || snapped(pitch) === stroke.pitch) {  // along the row: the note's length
    if (step >= stroke.start) {
      const held = pitchOf(cells[stroke.start]);
      place(cells, stroke.start, held, Math.min(step - stroke.start + 1, longest));
      stroke.moved = true;
    }
  } else if (step > stroke.step || step < stroke.start) {   // into another row: the next note
    stroke.pitch = snapped(pitch);
    stroke.start = step;
    place(cells, step, stroke.pitch, 1);
    sound(stroke.pitch, e.timeStamp);
  } else {
    return;
  }
  stroke.step = step;
  commit(stroke.work);
});

const endStroke = (e) => {
  if (!stroke || e.pointerId !== stroke.id) return;
  if (stroke.mode === 'resize' && !stroke.moved) {  // a click on a note: it goes
    const cells = stroke.work.cells;
    cells[stroke.start] = null;
    commit(stroke.work);
  }
  if (!same(norm(stroke.work), stroke.before)) pushHistory(stroke.before);
  stroke = null;
};
window.addEventListener('pointerup', endStroke);
window.addEventListener('pointercancel', endStroke);

// ---- toolbar: undo, clear, modes, column length, zoom, snap --------------------------------
const ZOOMS = [0.5, 0.75, 1, 1.5, 2, 3];
let zoom = 2;
function setZoom(index) {
  zoom = Math.max(0, Math.min(ZOOMS.length - 1, index));
  element.style.setProperty('--zoom', String(ZOOMS[zoom]));
  element.dataset.zoom = String(ZOOMS[zoom]);
}
setZoom(zoom);
function setUnit(unit) {      // sixteenth or eighth columns: the notes stay where they are in time
  const v = current();
  if (unit === v.unit) return;
  const cells = [];
  v.cells.forEach((c, s) => {
    const at = unit === 1 ? 2 * s : Math.floor(s / 2);
    if (c === null || (cells[at] !== undefined && cells[at] !== null)) return;
    while (cells.length <= at) cells.push(null);
    const len = unit === 1 ? 2 * lengthOf(c) : Math.max(1, Math.round(lengthOf(c) / 2));
    cells[at] = isPin(c) ? { pin: c.pin } : shorter(pitchOf(c), len);
  });
  pushHistory(v);
  props.steps = unit === 1 ? 2 * props.steps : Math.max(64, Math.ceil(props.steps / 2));
  commit({ ...v, unit, cells });
}
element.addEventListener('change', (e) => {
  const t = e.target;
  if (t.dataset.action === 'snap') {
    const [tonic, mode] = t.value ? t.value.split(':') : [];
    snap = t.value ? { tonic: +tonic, mode } : null;
    element.dataset.snap = t.value;
    markScale();
  } else if (t.dataset.action === 'unit') {
    setUnit(+t.value);
  } else if (t.dataset.action === 'meter') {
    const cur = current();
    pushHistory(cur);
    commit({ ...cur, meter: t.value.split('/').map(Number) });
  }
});
element.addEventListener('click', (e) => {
  const b = e.target.closest ? e.target.closest('[data-action]') : null;
  if (!b) return;
  const cur = current();
  if (b.dataset.action === 'clear' && cur.cells.length) {
    pushHistory(cur);
    commit({ ...cur, cells: [] });
  } else if (b.dataset.action === 'undo' && history.length) {
    commit(history.pop());
  } else if (b.dataset.action === 'draw') {
    element.classList.toggle('draw-mode');
    b.setAttribute('aria-pressed', String(element.classList.contains('draw-mode')));
  } else if (b.dataset.action === 'pin') {
    element.classList.toggle('pin-mode');
    b.setAttribute('aria-pressed', String(pinning()));
  } else if (b.dataset.action === 'zoom-in' || b.dataset.action === 'zoom-out') {
    setZoom(zoom + (b.dataset.action === 'zoom-in' ? 1 : -1));
  }
});

// ---- keyboard: a cursor moved by the arrow keys; Enter/Space toggle a note, P a pin ----------
const cursor = { step: 0, pitch: 60 };
let hadFocus = false;
// A screen reader hears the cursor's cell: the grid points at it (aria-activedescendant), and the
// cell says its pitch, its column and what is there.
const CURSOR_ID = `${element.id || 'grid'}-cursor`;
function cursorLabel(c) {
  const name = c.parentElement.querySelector('.pr-label').textContent, where = `${name}, step ${cursor.step + 1}`;
  if (c.classList.contains('on')) return `${where}: a note, ${c.title.split(' ')[1]}`;
  if (c.classList.contains('pin')) return `${where}: a pinned note`;
  if (c.classList.contains('hold')) return `${where}: the note before goes on sounding`;
  return `${where}: empty`;
}
function showCursor() {
  element.querySelectorAll('.pr-cell.cursor').forEach((c) => {
    c.classList.remove('cursor');
    c.removeAttribute('id');
    c.removeAttribute('aria-label');
  });
  const c = element.querySelector(`.pr-cell[data-step="${cursor.step}"][data-pitch="${cursor.pitch}"]`);
  const grid = element.querySelector('.pr-grid');
  if (c) {
    c.classList.add('cursor');
    c.id = CURSOR_ID;
    c.setAttribute('aria-label', cursorLabel(c));
    if (grid) grid.setAttribute('aria-activedescendant', CURSOR_ID);
    c.scrollIntoView({ block: 'nearest', inline: 'nearest' });
  }
}
function toggleAt(step, pitch, pin) {
  const before = current();
  const work = { ...before, cells: before.cells.slice() };
  while (work.cells.length <= step) work.cells.push(null);
  const here = work.cells[step], note = noteAt(work.cells, step);
  if (isPin(here) && here.pin === pitch) work.cells[step] = null;
  else if (note && note.pitch === pitch) work.cells[note.start] = null;
  else if (pin) work.cells[step] = { pin: pitch };
  else { place(work.cells, step, snapped(pitch), 1); sound(snapped(pitch), performance.now()); }
  pushHistory(before);
  commit(work);
}
function resizeAt(step, pitch, change) {  // Shift + Right / Left: the note under the cursor, a column longer / shorter
  const before = current(), work = { ...before, cells: before.cells.slice() };
  const note = noteAt(work.cells, step);
  if (!note || note.pitch !== pitch) return;
  const len = Math.max(1, Math.min(note.len + change, maxColumns(work.unit)));
  if (len === note.len) return;
  place(work.cells, note.start, note.pitch, len);
  pushHistory(before);
  commit(work);
}
element.addEventListener('keydown', (e) => {
  if (!e.target.classList || !e.target.classList.contains('pr-grid')) return;
  const moves = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, 1], ArrowDown: [0, -1] };
  if (e.shiftKey && (e.key === 'ArrowRight' || e.key === 'ArrowLeft')) {
    resizeAt(cursor.step, cursor.pitch, e.key === 'ArrowRight' ? 1 : -1);
  } else if (moves[e.key]) {
    const [ds, dp] = moves[e.key];
    cursor.step = Math.max(0, Math.min(props.steps - 1, cursor.step + ds));
    cursor.pitch = Math.max(props.low, Math.min(props.high, cursor.pitch + dp));
    showCursor();
  } else if (e.key === 'Enter' || e.key === ' ') {
    toggleAt(cursor.step, cursor.pitch, pinning());
  } else if (e.key === 'p' || e.key === 'P') {
    toggleAt(cursor.step, cursor.pitch, true);
  } else {
    return;
  }
  e.preventDefault();
  hadFocus = true;
  // A note placed or resized redraws the grid, which may keep its elements and drop the cursor's marks.
  requestAnimationFrame(() => { if (!element.querySelector('.pr-cell.cursor')) showCursor(); });
});
element.addEventListener('focusin', (e) => { if (e.target.classList && e.target.classList.contains('pr-grid')) showCursor(); });
// The grid is drawn again when its value changes: keep where it was scrolled to (at first: its
// notes, or middle C, in view), the cursor, and the focus when it had it.
let scrolled = null;
element.addEventListener('scroll', (e) => {
  if (e.target.classList && e.target.classList.contains('pr-scroll')) scrolled = [e.target.scrollLeft, e.target.scrollTop];
}, true);
function keepScroll() {
  const box = element.querySelector('.pr-scroll');
  if (!box) return;
  if (scrolled) {
    [box.scrollLeft, box.scrollTop] = scrolled;
  } else if (box.scrollHeight > box.clientHeight) {
    const target = element.querySelector('.pr-cell.on') || element.querySelector('.pr-row[data-pitch="60"]');
    if (target) box.scrollTop = Math.max(0, target.offsetTop - box.clientHeight / 2);
  }
}
keepScroll();
new MutationObserver(() => {
  keepScroll();
  const choice = element.querySelector('[data-action="snap"]');  // drawn again with the grid: keep the choice
  if (choice && choice.value !== (element.dataset.snap || '')) choice.value = element.dataset.snap || '';
  if (snap) markScale();
  if (!element.querySelector('.pr-cell.cursor') && hadFocus) {
    const grid = element.querySelector('.pr-grid');
    if (grid && document.activeElement !== grid) grid.focus({ preventScroll: true });
    showCursor();
  }
}).observe(element, { childList: true, subtree: true });
element.addEventListener('focusout', (e) => {
  if (e.relatedTarget && element.contains(e.relatedTarget)) return;
  if (e.target.classList && e.target.classList.contains('pr-grid') && e.relatedTarget) hadFocus = false;
});

// ---- playing it: the computer keyboard as a piano (two octaves) and Web MIDI, recorded into the grid
const KEYS = 'zsxdcvgbhnjm,l.;/';  // C4 C#4 D4 ... (the lower row), then on from C5 ...
const UPPER = 'q2w3er5t6y7ui9o0p';  // ... and C5 upward on the upper row
function keyPitch(key) {
  const low = KEYS.indexOf(key), high = UPPER.indexOf(key);
  return low >= 0 ? 60 + low : high >= 0 ? 72 + high : null;
}
function play(pitch, since) {
  while (pitch < props.low) pitch += 12;
  while (pitch > props.high) pitch -= 12;
  pitch = snapped(pitch);
  sound(pitch, since);
  const before = current();
  const work = { ...before, cells: before.cells.slice() };
  const end = endOf(work.cells);  // recording goes on after the last note
  if (end >= props.steps) return;
  place(work.cells, end, pitch, 1);
  pushHistory(before);
  commit(work);
}
const playing = () => element.classList.contains('keys-mode');
document.addEventListener('keydown', (e) => {
  if (!playing() || e.repeat || e.ctrlKey || e.metaKey || e.altKey) return;
  const t = e.target;
  if (t && (t.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT'].includes(t.tagName))) return;
  const pitch = keyPitch(e.key.toLowerCase());
  if (pitch === null) return;
  e.preventDefault();
  play(pitch, e.timeStamp);
});
let midi = null;
function listenToMidi() {
  if (midi || !navigator.requestMIDIAccess) return;
  midi = navigator.requestMIDIAccess().then((access) => {
    const hook = (input) => {
      input.onmidimessage = (m) => {
        const [status, note, velocity] = m.data;
        if ((status & 0xf0) === 0x90 && velocity > 0 && playing()) play(note, m.timeStamp || performance.now());
      };
    };
    access.inputs.forEach(hook);
    access.onstatechange = (e) => { if (e.port.type === 'input' && e.port.state === 'connected') hook(e.port); };
  }).catch(() => {});
}
element.addEventListener('click', (e) => {
  const b = e.target.closest ? e.target.closest('[data-action="keys"]') : null;
  if (!b) return;
  element.classList.toggle('keys-mode');
  b.setAttribute('aria-pressed', String(playing()));
  if (audio && audio.state === 'suspended') audio.resume();
  if (playing()) listenToMidi();
});
