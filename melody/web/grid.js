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
  setTimeout(() => trigger('input'), 0);  // the user's edit (a value set from Python is not one)
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
  // On a touch screen a finger scrolls the page and the grid; it draws only in drawing mode.
  if (e.pointerType === 'touch' && !element.classList.contains('draw-mode')) return;
  e.preventDefault();
  try { cell.releasePointerCapture(e.pointerId); } catch (err) {}
  const step = +cell.dataset.step, pitch = +cell.dataset.pitch;
  const before = asArr(props.value);
  const here = before[step];
  const hit = here === pitch || (isPin(here) && here.pin === pitch);
  stroke = { id: e.pointerId, before, work: before.slice(),
             mode: hit ? 'erase' : pinning() ? 'pin' : 'draw', step, pitch };
  if (stroke.mode === 'draw') sound(pitch, e.timeStamp);
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
  if (stroke.mode === 'draw' && pitch !== stroke.pitch) sound(pitch, e.timeStamp);
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
  } else if (b.dataset.action === 'draw') {
    element.classList.toggle('draw-mode');
    b.setAttribute('aria-pressed', String(element.classList.contains('draw-mode')));
  } else if (b.dataset.action === 'pin') {
    element.classList.toggle('pin-mode');
    b.setAttribute('aria-pressed', String(pinning()));
  }
});

// ---- keyboard: a cursor moved by the arrow keys; Enter/Space toggle a note, P a pin ----------
const cursor = { step: 0, pitch: 60 };
let hadFocus = false;
function showCursor() {
  element.querySelectorAll('.pr-cell.cursor').forEach((c) => c.classList.remove('cursor'));
  const c = element.querySelector(`.pr-cell[data-step="${cursor.step}"][data-pitch="${cursor.pitch}"]`);
  if (c) {
    c.classList.add('cursor');
    c.scrollIntoView({ block: 'nearest', inline: 'nearest' });
  }
}
function toggleAt(step, pitch, pin) {
  const before = asArr(props.value);
  const work = before.slice();
  while (work.length <= step) work.push(null);
  const here = work[step];
  const hit = here === pitch || (isPin(here) && here.pin === pitch);
  work[step] = hit ? null : pin ? { pin: pitch } : pitch;
  if (!hit && !pin) sound(pitch, performance.now());
  pushHistory(norm(before));
  commit(work);
}
element.addEventListener('keydown', (e) => {
  if (!e.target.classList || !e.target.classList.contains('pr-grid')) return;
  const moves = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, 1], ArrowDown: [0, -1] };
  if (moves[e.key]) {
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
  sound(pitch, since);
  const before = asArr(props.value);
  const work = before.slice();
  let end = 0;  // the column after the last note: recording goes on from there
  work.forEach((v, s) => { if (typeof v === 'number') end = s + 1; });
  if (end >= props.steps) return;
  while (work.length <= end) work.push(null);
  work[end] = pitch;
  pushHistory(norm(before));
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
