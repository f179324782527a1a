#!/usr/bin/env bash
# Installs the system packages the playground needs when they are missing, with apt where it can.
#   scripts/system-deps.sh run    FluidSynth (required for real sound; the app falls back to a simple synth)
#   scripts/system-deps.sh test   the same, plus Chromium for the browser tests and npm for axe-core (required)
set -u
mode=${1:-run}
missing=()

have_fluidsynth() { ldconfig -p 2>/dev/null | grep -q 'libfluidsynth\.so'; }
have_soundfont() { compgen -G "/usr/share/sounds/sf2/*.sf2" >/dev/null || compgen -G "/usr/share/soundfonts/*.sf2" >/dev/null; }
have_chromium() { [ -x /usr/bin/chromium ]; }
have_npm() { command -v npm >/dev/null 2>&1; }

have_fluidsynth || missing+=(libfluidsynth3)
have_soundfont || missing+=(fluid-soundfont-gm)
[ "$mode" = test ] && ! have_chromium && missing+=(chromium)
[ "$mode" = test ] && ! have_npm && missing+=(npm)
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
[ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1 && sudo="sudo -n"
if command -v apt-get >/dev/null 2>&1 && { [ "$(id -u)" -eq 0 ] || [ -n "$sudo" ]; }; then
    echo "Installing system packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get update -qq && $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
        || echo "apt-get could not install ${missing[*]}."
fi

status=0
if ! have_fluidsynth; then
    echo "FluidSynth's library is missing. Install it: Debian/Ubuntu 'sudo apt-get install libfluidsynth3'," \
         "Fedora 'sudo dnf install fluidsynth-libs', macOS 'brew install fluid-synth'."
    if [ "$mode" = test ]; then status=1; else echo "The playground will use its simple built-in synth until then."; fi
fi
have_soundfont || echo "No system General MIDI soundfont (optional): 'sudo apt-get install fluid-soundfont-gm'." \
                       "Until then the small soundfont shipped with pretty_midi is used."
if [ "$mode" = test ] && ! have_chromium; then
    echo "Chromium is missing for the browser tests: 'sudo apt-get install chromium'."
    status=1
fi
if [ "$mode" = test ] && ! have_npm; then
    echo "npm is missing: it installs axe-core for the accessibility tests ('sudo apt-get install npm')."
    status=1
fi
exit $status
