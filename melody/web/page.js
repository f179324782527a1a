() => {
  // The playground page's own script, given to Gradio's launch() as `js` (melody/web/launch.py reads it
  // through melody.web.page.style_and_script()); the drawing grid has its own, grid.js. This file is one
  // arrow function, which Gradio runs once the page loads: keep anything, comments too, inside it.
  //
  // The fragment the page was opened with (a link: the page's state, melody/web/link.py), read now,
  // before the page's events rewrite the address: melody.web.events.wire_link restores it.
  window.melodyOpenedWith = location.hash.slice(1);
  // Every picture says what it shows (Gradio's images have no alt text of their own).
  const alt = (id) => {
    if (id === 'seed-roll') return 'Piano roll of the seed: its notes by pitch and time';
    if (id.startsWith('roll-')) return `Piano roll of variation ${id.slice(5)}: the seed in blue, then the continuation in orange`;
    if (id.startsWith('histogram-')) return `Pitch classes of the seed and of variation ${id.slice(10)}'s continuation`;
    return null;
  };
  const apply = () => {
    document.querySelectorAll('img').forEach((img) => {
      const holder = img.closest('[id]');
      const text = holder ? alt(holder.id) : null;
      if (text && img.alt !== text) img.alt = text;
    });
    // Gradio's empty boxes carry a label that a plain box may not have (the block's own label names
    // it); the upload area and a player's speed button are named by the words they show.
    document.querySelectorAll('.empty[aria-label]:not([role])').forEach((box) => box.removeAttribute('aria-label'));
    document.querySelectorAll('button.upload-container[aria-label]').forEach((b) => b.removeAttribute('aria-label'));
    document.querySelectorAll('button.playback[aria-label]').forEach((b) => {
      const shown = b.textContent.trim(), label = b.getAttribute('aria-label');
      if (shown && !label.startsWith(shown)) b.setAttribute('aria-label', `${shown} speed: ${label.toLowerCase()}`);
    });
  };
  new MutationObserver(apply).observe(document.body, {childList: true, subtree: true, attributes: true,
                                                      attributeFilter: ['src', 'aria-label']});
  apply();
// Playheads: a line over each result's piano roll where its audio is; a click on the roll plays from there.
const findAudio = (root) => {
  for (const el of root.querySelectorAll('*')) {
    if (el.tagName === 'AUDIO' && el.src) return el;
    if (el.shadowRoot) { const found = findAudio(el.shadowRoot); if (found) return found; }
  }
  return null;
};
const timeline = (n) => {
  const data = document.querySelector(`#timeline-${n} .roll-timeline`);
  if (!data || !data.dataset.seconds) return null;
  return { left: +data.dataset.left, right: +data.dataset.right, seconds: +data.dataset.seconds,
           seedEnd: +data.dataset.seedEnd, end: +data.dataset.end };
};
const audioOf = (n) => { const holder = document.getElementById(`audio-${n}`); return holder && findAudio(holder); };
const seedAudio = () => { const holder = document.getElementById('seed-audio'); return holder && findAudio(holder); };
// One sound at a time: a player that starts (a result, or the seed alone) pauses every other one,
// also when it started playing by itself before it was found.
const solo = (audio) => {
  if (!audio.dataset.stopAt) queue = [];  // played by hand: a comparison under way ends
  for (const other of [seedAudio(), audioOf(1), audioOf(2), audioOf(3), audioOf(4)]) {
    if (other && other !== audio) { delete other.dataset.stopAt; other.pause(); }
  }
};
const watch = (audio) => {
  if (!audio || audio.dataset.watched) return;
  audio.dataset.watched = '1';
  audio.addEventListener('play', () => solo(audio));
  if (!audio.paused) solo(audio);
};
// The continuation alone: from where the seed ends to where the continuation ends, then the next
// in the queue (Compare plays each variation's continuation in turn). One result sounds at a time.
let queue = [];
const playAlone = (n) => {
  const line = timeline(n), a = audioOf(n);
  if (!line || !a) return;
  a.currentTime = line.seedEnd;
  a.dataset.stopAt = line.end;
  a.play().catch(() => {});
};
window.melodyPlayContinuation = (n) => { queue = []; playAlone(n); };
window.melodyCompare = () => {
  queue = [1, 2, 3, 4].filter((n) => timeline(n) && audioOf(n) && document.getElementById(`audio-${n}`).offsetParent);
  if (queue.length) playAlone(queue.shift());
};
const stopAtItsEnd = (audio) => {
  if (!audio.dataset.stopAt || (audio.currentTime < +audio.dataset.stopAt && !audio.ended)) return;
  delete audio.dataset.stopAt;
  audio.pause();
  if (queue.length) playAlone(queue.shift());
};
// Each result's audio, picture and line are looked up at most every 250 ms (and at once when one
// is gone: a new result), the picture's place read only then. Each frame reads the audio's time
// and moves the line only when it moved by a pixel: nothing is written while nothing plays, and no
// layout is read between the player's own writes (which would force the page to lay out again).
const heads = {};
let looked = -1e9;
const lookUp = (n) => {
  const roll = document.getElementById(`roll-${n}`), line = timeline(n);
  const img = roll && roll.querySelector('img');
  const audio = audioOf(n);
  if (!img || !line || !audio || !img.clientWidth) return null;
  watch(audio);
  const box = img.parentElement;
  if (getComputedStyle(box).position === 'static') box.style.position = 'relative';
  let head = box.querySelector('.playhead');
  if (!head) {
    head = document.createElement('div');
    head.className = 'playhead';
    head.setAttribute('aria-hidden', 'true');
    box.appendChild(head);
    img.style.cursor = 'pointer';
    img.title = 'Click to play from here';
    img.addEventListener('click', (e) => {
      const now = timeline(n), a = audioOf(n);
      if (!now || !a) return;
      const r = img.getBoundingClientRect();
      const x = (e.clientX - r.left) / r.width;
      const part = (x - now.left) / (now.right - now.left);
      if (part < 0 || part > 1) return;
      a.currentTime = part * now.seconds;
      a.play().catch(() => {});
    });
  }
  const place = `position:absolute;left:0;top:${img.offsetTop}px;height:${img.clientHeight}px;width:2px;` +
    'background:#b91c1c;pointer-events:none;will-change:transform;';
  const old = heads[n];
  const drawn = old && old.head === head && old.place === place ? old.drawn : null;
  if (drawn === null) head.style.cssText = place + 'display:none';
  return { audio, img, head, line, place, drawn, x0: img.offsetLeft, width: img.clientWidth };
};
const follow = (now) => {
  const fresh = now - looked > 250;
  if (fresh) { looked = now; watch(seedAudio()); }
  for (let n = 1; n <= 4; n++) {
    let h = heads[n];
    if (fresh || (h && !(h.audio.isConnected && h.img.isConnected))) h = heads[n] = lookUp(n);
    if (!h) continue;
    const audio = h.audio;
    stopAtItsEnd(audio);
    const part = Math.min(1, audio.currentTime / h.line.seconds);
    const x = Math.round(h.x0 + h.width * (h.line.left + part * (h.line.right - h.line.left)));
    const drawn = audio.currentTime > 0 && part < 1 ? x : -1;
    if (drawn === h.drawn) continue;
    h.drawn = drawn;
    h.head.style.display = drawn < 0 ? 'none' : 'block';
    h.head.style.transform = `translateX(${x}px)`;
    h.head.dataset.part = part.toFixed(4);
  }
  requestAnimationFrame(follow);
};
requestAnimationFrame(follow);
}
